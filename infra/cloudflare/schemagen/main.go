// Command schemagen writes infra/cloudflare/schema.json: the Cloudflare
// provider plugin's schema (`pulumi package get-schema`), filtered to the
// resources the slim package registers and the types they reach. Run it with
// `go generate ./infra/cloudflare` after bumping cloudflare.ProviderVersion;
// the pulumi CLI and the plugin must be on PATH (../shared/tools/pulumi, or
// `pulumi plugin install resource cloudflare VERSION`), or pass -schema with
// a schema file.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/zerocost/zerocost/infra/cloudflare"
)

func main() {
	out := flag.String("out", "schema.json", "file to write")
	from := flag.String("schema", "", "a full provider schema file to read instead of asking the plugin")
	plugin := flag.String("plugin", "cloudflare@"+cloudflare.ProviderVersion, "what `pulumi package get-schema` reads: a plugin name@version or a path to the plugin binary")
	flag.Parse()
	if err := run(*out, *from, *plugin); err != nil {
		fmt.Fprintln(os.Stderr, "schemagen:", err)
		os.Exit(1)
	}
}

func run(out, from, plugin string) error {
	var full []byte
	var err error
	if from != "" {
		full, err = os.ReadFile(from)
	} else {
		full, err = cloudflare.ReadPluginSchema(plugin)
	}
	if err != nil {
		return err
	}
	filtered, err := cloudflare.FilterSchema(full, cloudflare.Tokens())
	if err != nil {
		return err
	}
	return os.WriteFile(out, filtered, 0o644)
}
