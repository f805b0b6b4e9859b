// Package zerocost embeds the project's templates and Worker sources so that the
// CLI and the Pulumi program carry them wherever they run.
package zerocost

import "embed"

// Templates holds templates/: common.tmpl and one wrangler config template per pattern.
//
//go:embed templates
var Templates embed.FS

// WorkerSources holds the TypeScript sources of the Workers (workers-src/src).
//
//go:embed workers-src/src
var WorkerSources embed.FS
