package verifytest

import (
	"testing"

	"github.com/zerocost/zerocost/internal/plan/plantest"
)

// Every binding kind of the plan can be seeded into the fake API.
func TestEveryKindIsSeeded(t *testing.T) {
	plantest.CheckKinds(t, "verifytest.Deploy (seedBindings)", seedBindings)
}
