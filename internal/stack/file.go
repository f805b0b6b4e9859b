package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// ProjectFile is the Pulumi project file that marks a zerocost project's root.
const ProjectFile = "Pulumi.yaml"

// FindProjectDir walks up from dir to the first folder holding Pulumi.yaml.
func FindProjectDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, ProjectFile)); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no %s in %s or any parent folder: run zerocost inside a zerocost project or pass --project-dir", ProjectFile, abs)
		}
	}
}

// FilePath is where the stack's config lives in a project.
func FilePath(projectDir, stackName string) string {
	return filepath.Join(projectDir, "Pulumi."+stackName+".yaml")
}

// LoadFile reads Pulumi.<stack>.yaml from projectDir and returns the stack's
// validated config. Secret values are noted as present but never decrypted.
func LoadFile(projectDir, stackName string) (*Config, error) {
	path := FilePath(projectDir, stackName)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("stack %q: %s does not exist (start it with `zerocost init --stack %s --pattern PATTERN --product NAME`)", stackName, path, stackName)
	}
	if err != nil {
		return nil, err
	}
	values, err := ParseYAML(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cfg, err := FromValues(stackName, values)
	if err != nil {
		return nil, fmt.Errorf("%s:\n%w", path, err)
	}
	return cfg, nil
}

// ParseYAML extracts the zerocost: values of a Pulumi stack file.
func ParseYAML(data []byte) (map[string]Value, error) {
	var doc struct {
		Config map[string]yaml.Node `yaml:"config"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	out := map[string]Value{}
	for key, node := range doc.Config {
		ns, name, ok := strings.Cut(key, ":")
		if !ok || ns != Namespace {
			continue // another namespace's config (cloudflare:, pulumi:, ...)
		}
		var v any
		if err := node.Decode(&v); err != nil {
			return nil, fmt.Errorf("config %s: %w", key, err)
		}
		if m, isMap := v.(map[string]any); isMap && len(m) == 1 && m["secure"] != nil {
			out[name] = Value{Secret: true}
			continue
		}
		if node.Kind == yaml.ScalarNode {
			out[name] = Value{Text: node.Value}
			continue
		}
		if containsSecure(v) {
			return nil, fmt.Errorf("config %s: secrets inside structured values are not supported: keep secrets in their own keys (anthropicApiKey, authToken)", key)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", key, err)
		}
		out[name] = Value{Text: string(b)}
	}
	return out, nil
}

func containsSecure(v any) bool {
	switch t := v.(type) {
	case map[string]any:
		if _, ok := t["secure"]; ok && len(t) == 1 {
			return true
		}
		for _, x := range t {
			if containsSecure(x) {
				return true
			}
		}
	case []any:
		for _, x := range t {
			if containsSecure(x) {
				return true
			}
		}
	}
	return false
}

// ResolvePath resolves a path from the stack config (system prompt file, hooks
// module) against the project folder, refusing paths that leave it.
func ResolvePath(projectDir, p string) (string, error) {
	if filepath.IsAbs(p) {
		return "", fmt.Errorf("%q must be relative to the project folder", p)
	}
	full := filepath.Join(projectDir, p)
	rel, err := filepath.Rel(projectDir, full)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%q leaves the project folder", p)
	}
	return full, nil
}
