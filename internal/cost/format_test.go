package cost

import (
	"bytes"
	"strings"
	"testing"
)

// An unknown format is an error naming the formats; "" is the table.
func TestWriteFormats(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, &Report{}, "pdf"); err == nil || err.Error() != `unknown format "pdf" (use table, json, markdown, html)` {
		t.Errorf("Write pdf: %v", err)
	}
	if err := WriteDiff(&b, &Diff{}, "html"); err == nil || err.Error() != `unknown format "html" (use table, json, markdown)` {
		t.Errorf("WriteDiff html: %v", err)
	}
	var def, table bytes.Buffer
	if err := WriteDiff(&def, &Diff{}, ""); err != nil {
		t.Fatal(err)
	}
	if err := WriteDiff(&table, &Diff{}, "table"); err != nil {
		t.Fatal(err)
	}
	if def.String() != table.String() || !strings.Contains(def.String(), "PRODUCT") {
		t.Errorf("the default is not the table:\n%s", def.String())
	}
}
