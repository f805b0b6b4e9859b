package render

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/stack"
)

// vars are the values of the pattern's vars, in internal/contract's order.
func vars(cfg *stack.Config, p stack.Product, d *Data, prompt, modelPrices string) ([]Var, error) {
	// The value of every var internal/contract declares that carries no
	// setting; a setting's var is its stack.Settings.VarText.
	values := map[string]string{
		contract.VarProduct:          p.Name,
		contract.VarPattern:          p.Pattern,
		contract.VarAccess:           p.Access,
		contract.VarModel:            p.Model,
		contract.VarAnthropicBaseURL: cfg.AnthropicBaseURL,
		contract.VarSystemPrompt:     prompt,
		contract.VarDeadLetterQueue:  d.DeadLetterQueue,
		contract.VarStackBudgetUSD:   stack.FormatUSD(cfg.MonthlyBudgetUSD),
		contract.VarModelPrices:      modelPrices,
	}
	var out []Var
	for _, v := range contract.Vars {
		if !slices.Contains(v.Patterns, p.Pattern) {
			continue
		}
		value, ok := values[v.Name]
		switch {
		case v.Setting != "":
			value = p.Settings.VarText(v.Setting)
		case !ok:
			return nil, fmt.Errorf("internal/render has no value for var %s", v.Name)
		}
		out = append(out, Var{v.Name, value})
	}
	return out, nil
}

// systemPrompt is the product's system prompt: its systemPrompt, or the
// text of its systemPromptFile (resolved in projectDir).
func systemPrompt(p stack.Product, projectDir, field string) (string, error) {
	if p.SystemPromptFile == "" {
		return p.SystemPrompt, nil
	}
	path, err := stack.ResolvePath(projectDir, p.SystemPromptFile)
	if err != nil {
		return "", fmt.Errorf("%s.systemPromptFile: %w", field, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s.systemPromptFile: %w", field, err)
	}
	if !utf8.Valid(b) {
		return "", fmt.Errorf("%s.systemPromptFile: %s is not UTF-8 text", field, p.SystemPromptFile)
	}
	prompt := strings.TrimRight(string(b), "\n")
	if len(prompt) > stack.MaxPlainTextVarBytes {
		return "", fmt.Errorf("%s.systemPromptFile: %s is %d bytes; a Worker variable holds at most %d", field, p.SystemPromptFile, len(prompt), stack.MaxPlainTextVarBytes)
	}
	return prompt, nil
}
