package cloudflare

import (
	"reflect"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Every args struct is a pulumi.Input whose ElementType is the struct itself
// (what the embedded element gives it): the SDK marshals the struct's own
// tagged fields by that type.
func TestArgsAreTheirOwnElementType(t *testing.T) {
	for _, spec := range Resources {
		in, ok := reflect.New(spec.Args).Interface().(pulumi.Input)
		if !ok {
			t.Errorf("*%s is not a pulumi.Input", spec.Args.Name())
			continue
		}
		if got := in.ElementType(); got != spec.Args {
			t.Errorf("%s.ElementType() is %v", spec.Args.Name(), got)
		}
	}
}
