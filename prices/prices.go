// Package prices embeds zerocost's dated price files (see 2026-11.toml for the
// format). internal/cost parses them.
package prices

import _ "embed"

// Current is the newest price file.
//
//go:embed 2026-11.toml
var Current []byte

// CurrentPath is Current's path in the repository, for messages.
const CurrentPath = "prices/2026-11.toml"
