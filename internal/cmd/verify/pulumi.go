package verify

import "github.com/zerocost/zerocost/internal/outputs"

// OutputsSource reads a deployed stack's outputs.
type OutputsSource = outputs.Reader

// ErrNoPulumi says the pulumi CLI is not on PATH.
var ErrNoPulumi = outputs.ErrNoPulumi

// PulumiCLI runs `pulumi stack output --json --stack NAME` in the project
// (package outputs' one reader and secrets policy).
type PulumiCLI = outputs.Pulumi
