package prices

// Speed is how fast a model writes its answer: output tokens a second, as
// third-party measurements of Anthropic's API report it. zerocost uses the
// slow end of what is published, since it warns when an answer may take too
// long.
type Speed struct {
	TokensPerSecond float64
	// Source names the measurement.
	Source string
}

// Speeds are the models' output speeds, beside their prices (2026-11.toml).
var Speeds = map[string]Speed{
	// Reported between 53 (Anthropic's API) and about 115 tokens a second.
	"claude-haiku-4-5": {53, "Artificial Analysis, output speed of Claude 4.5 Haiku on Anthropic's API (53 tokens/s), as quoted at shadabchow.com/blogs/ai-models/claude-4-5-haiku-reasoning, 2025-26"},
	// Sonnet-class models: about 55-65 tokens a second.
	"claude-sonnet-4-5": {55, "third-party output-speed measurements of Sonnet-class models on Anthropic's API, 55-65 tokens/s, 2025-26"},
}

// AnswerSeconds is how long a model takes to write n output tokens, and
// whether its speed is known.
func AnswerSeconds(model string, n int) (float64, bool) {
	s, ok := Speeds[model]
	if !ok || s.TokensPerSecond <= 0 {
		return 0, false
	}
	return float64(n) / s.TokensPerSecond, true
}
