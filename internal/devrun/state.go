package devrun

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// DataDirName is the folder of a project that holds everything `zerocost dev`
// writes: dev/<stack>.json (the state file), dev/<stack>/ (bundles and the
// runner's config) and state/<stack>/ (R2, queue and cache data).
const DataDirName = ".zerocost"

// State is the state file of a running `zerocost dev`, at
// <project>/.zerocost/dev/<stack>.json. It is written once every product is
// ready and removed when dev stops; `zerocost verify --local` reads it.
type State struct {
	Stack     string    `json:"stack"`
	PID       int       `json:"pid"`
	StartedAt time.Time `json:"started_at"`
	Model     ModelInfo `json:"model"`
	// EntryURL is Miniflare's entry socket on 127.0.0.1: TriggerCron runs
	// the products' scheduled handlers through it.
	EntryURL string    `json:"entry_url,omitempty"`
	Products []Product `json:"products"`
	// KVAPIURL is the base URL of the local KV API: Cloudflare's Workers KV
	// values endpoints (list keys, read, write, delete, metadata) over
	// the products' KEYS namespaces, for cloudflare-go (`zerocost keys
	// --local`), and D1's query endpoint over the stack's spend store
	// (`zerocost cost report --by customer --local`, the database id
	// render.LocalDatabaseID of its name). KVAccountID is the account id
	// its paths take.
	KVAPIURL    string `json:"kv_api_url,omitempty"`
	KVAccountID string `json:"kv_account_id,omitempty"`
}

// Product is one running product.
type Product struct {
	Name    string `json:"name"`
	Pattern string `json:"pattern"`
	// URL is the product's local base URL, e.g. http://127.0.0.1:41234 (no trailing slash).
	URL string `json:"url"`
	// Script is the Worker's script name (Miniflare keys on it).
	Script string `json:"script,omitempty"`
	// Crons are the product's cron triggers, as planned.
	Crons []string `json:"crons,omitempty"`
	// Key is the customer key dev created at start for a product with keys
	// (customer DevCustomer); "" for a public one. Only the state file
	// (mode 0600) and the --json line hold it.
	Key string `json:"key,omitempty"`
	// KeysNamespaceID is the local id of the product's KEYS namespace,
	// served by the KV API at State.KVAPIURL.
	KeysNamespaceID string `json:"keys_namespace_id,omitempty"`
}

// ModelInfo says which model API the Workers call.
type ModelInfo struct {
	// URL is the ANTHROPIC_BASE_URL the Workers use.
	URL string `json:"url"`
	// StandIn is true for the local stand-in (package devmodel), false for the real API.
	StandIn bool `json:"stand_in"`
}

// ErrNotRunning is returned by ReadState when no dev runtime runs for the stack:
// there is no state file, or the process that wrote it is gone.
var ErrNotRunning = errors.New("zerocost dev is not running")

// StatePath is the state file of the stack's dev runtime in a project.
func StatePath(projectDir, stack string) string {
	return stateFile(filepath.Join(projectDir, DataDirName), stack)
}

func stateFile(dataDir, stack string) string {
	return filepath.Join(dataDir, "dev", stack+".json")
}

// ReadState returns the state of the stack's running dev runtime. Its error
// wraps ErrNotRunning when there is none (no file, or a file left by a process
// that is gone).
func ReadState(projectDir, stack string) (*State, error) {
	return ReadStateFile(StatePath(projectDir, stack))
}

// ReadStateFile reads a state file, checking that its process still runs.
func ReadStateFile(path string) (*State, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no %s (start it with `zerocost dev`)", ErrNotRunning, path)
	}
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if s.PID <= 0 || !processAlive(s.PID) {
		return nil, fmt.Errorf("%w: %s was left by process %d, which has exited", ErrNotRunning, path, s.PID)
	}
	return &s, nil
}

// Product returns the named product, or nil.
func (s *State) Product(name string) *Product {
	for i := range s.Products {
		if s.Products[i].Name == name {
			return &s.Products[i]
		}
	}
	return nil
}

// writeState writes the file atomically (readers never see half a file).
func writeState(path string, s *State) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".state-*.json")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}
