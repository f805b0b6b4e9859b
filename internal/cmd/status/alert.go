package status

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"

	"github.com/zerocost/zerocost/internal/cmd/cost/shared"
	"github.com/zerocost/zerocost/internal/cost/freeuse"
)

// stackOf names what the deployed stack owns.
func stackOf(d *shared.Session) *freeuse.Stack {
	st := &freeuse.Stack{Name: d.Plan.Stack, ModelDataset: d.Dataset}
	d1 := map[string]bool{}
	for _, p := range d.Products {
		st.Products = append(st.Products, p.Name)
		st.Scripts = append(st.Scripts, p.Script)
		st.Buckets = append(st.Buckets, p.Buckets...)
		st.QueueIDs = append(st.QueueIDs, p.QueueIDs...)
		for _, id := range d.Outputs[p.Name].D1DatabaseIDs {
			d1[id] = true
		}
	}
	for id := range d1 {
		st.D1IDs = append(st.D1IDs, id)
	}
	sort.Strings(st.D1IDs)
	return st
}

// post sends the alert. The URL carries a token: no error names it.
func post(ctx context.Context, hc *http.Client, url string, a *freeuse.Alert) error {
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("the alert webhook ($%s): the URL does not parse", EnvWebhook)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("the alert webhook ($%s) could not be reached", EnvWebhook)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("the alert webhook ($%s) answered HTTP %d", EnvWebhook, resp.StatusCode)
	}
	return nil
}
