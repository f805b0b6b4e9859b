package stack

// KeyUsageProfile names the stack's default usage profile: a TOML file,
// relative to the project folder, holding the traffic `zerocost cost
// forecast` and `zerocost cost diff` price when no --usage is given. Only
// the CLI reads it (package cost's stack inputs); the Pulumi program accepts
// it and deploys nothing from it.
const KeyUsageProfile = "usageProfile"

// UsageProfile is the stack's zerocost:usageProfile, "" when unset.
func UsageProfile(values map[string]Value) string { return values[KeyUsageProfile].Text }

func init() { knownKeys[KeyUsageProfile] = true }
