// Command infra is zerocost's Pulumi program: it turns the stack's list of
// products (Pulumi.<stack>.yaml, namespace zerocost:) into every Cloudflare
// resource the products' patterns need. Run it with `pulumi up` from the
// project folder; Pulumi.yaml points here.
package main

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

func main() {
	pulumi.Run(program)
}
