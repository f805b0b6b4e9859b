package stack

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// maxBudgetUSD bounds a monthly budget: beyond it a typo (an extra zero or
// three) is likelier than a real budget.
const maxBudgetUSD = 1_000_000

func validBudget(f float64) bool { return f > 0 && f <= maxBudgetUSD }

// FormatUSD writes a budget as the vars carry it: a decimal string with no
// exponent and no trailing zeros ("12.5", "100"); "" for 0 (no budget).
func FormatUSD(f float64) string {
	if f == 0 {
		return ""
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// AlertThresholds are the product's alert thresholds: its own, or
// DefaultBudgetAlertThresholds.
func (s Settings) AlertThresholds() []int {
	if len(s.BudgetAlertThresholds) > 0 {
		return s.BudgetAlertThresholds
	}
	return DefaultBudgetAlertThresholds
}

// ThresholdsVar writes thresholds as BUDGET_ALERT_THRESHOLDS does ("50,80,100").
func ThresholdsVar(t []int) string {
	parts := make([]string, len(t))
	for i, n := range t {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ",")
}

// checkMonthlyBudget checks settings.monthlyBudgetUsd (set: not 0).
func checkMonthlyBudget(s *Settings, field string) []error {
	if validBudget(s.MonthlyBudgetUSD) {
		return nil
	}
	return []error{errf(field, "%s is out of range: more than 0 and at most %d (US dollars a month)",
		strconv.FormatFloat(s.MonthlyBudgetUSD, 'f', -1, 64), maxBudgetUSD)}
}

// checkAlertThresholds checks settings.budgetAlertThresholds (set: not nil):
// percents, ascending, each once.
func checkAlertThresholds(s *Settings, field string) []error {
	t := s.BudgetAlertThresholds
	if len(t) == 0 {
		return []error{errf(field, "is empty: list at least one percent (or leave it out for %s)", ThresholdsVar(DefaultBudgetAlertThresholds))}
	}
	var errs []error
	for i, n := range t {
		switch {
		case n < 1 || n > 100:
			errs = append(errs, errf(fmt.Sprintf("%s[%d]", field, i), "%d is out of range 1..100 (a percent of the budget)", n))
		case i > 0 && n <= t[i-1]:
			errs = append(errs, errf(fmt.Sprintf("%s[%d]", field, i), "%d does not follow %d: list the percents ascending, each once", n, t[i-1]))
		}
	}
	return errs
}

// checkAlertWebhook checks settings.budgetAlertWebhook (set: not "").
func checkAlertWebhook(s *Settings, field string) []error {
	if why := CheckWebhookURL(s.BudgetAlertWebhook); why != "" {
		return []error{errf(field, "%s", why)}
	}
	return nil
}

// checkBudgets checks what spans products: alert settings need a budget to
// alert on.
func (c *Config) checkBudgets() []error {
	if c.HasBudget() {
		return nil
	}
	var errs []error
	for i, p := range c.Products {
		sf := fmt.Sprintf("%s:%s[%d].settings", Namespace, KeyProducts, i)
		if p.Settings.BudgetAlertWebhook != "" {
			errs = append(errs, errf(sf+".budgetAlertWebhook", "there is no budget to alert on: set settings.monthlyBudgetUsd or %s:%s", Namespace, KeyMonthlyBudgetUSD))
		}
		if p.Settings.BudgetAlertThresholds != nil {
			errs = append(errs, errf(sf+".budgetAlertThresholds", "there is no budget to alert on: set settings.monthlyBudgetUsd or %s:%s", Namespace, KeyMonthlyBudgetUSD))
		}
	}
	if c.HasBudgetAlertWebhook {
		errs = append(errs, errf(Namespace+":"+KeyBudgetAlertWebhook, "there is no budget to alert on: set %s:%s or a product's settings.monthlyBudgetUsd", Namespace, KeyMonthlyBudgetUSD))
	}
	return errs
}

// CheckWebhookURL says what is wrong with a plain-text webhook URL, or "".
// The message never repeats the URL: it may carry a token.
func CheckWebhookURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "is not an http(s) URL"
	}
	if where := WebhookToken(u); where != "" {
		return fmt.Sprintf("the URL carries a token (%s), so it must not sit in the stack file in plain text: "+
			"store it encrypted with `pulumi config set --secret %s:%s <url>` and delete this setting",
			where, Namespace, KeyBudgetAlertWebhook)
	}
	return ""
}

// WebhookToken says where a webhook URL carries a token ("" when it carries
// none that zerocost can tell): user info, a query string, a Slack or
// Discord webhook path, or a path segment that looks like a random token (20
// or more letters and digits, mixed). Such a URL is a secret.
func WebhookToken(u *url.URL) string {
	host := strings.ToLower(u.Hostname())
	path := u.EscapedPath()
	switch {
	case u.User != nil:
		return "user info before the host"
	case u.RawQuery != "" || u.ForceQuery:
		return "a query string"
	case host == "hooks.slack.com" && path != "" && path != "/":
		return "a Slack webhook token in its path"
	case (host == "discord.com" || host == "discordapp.com" || strings.HasSuffix(host, ".discord.com")) &&
		strings.HasPrefix(path, "/api/webhooks/"):
		return "a Discord webhook token in its path"
	}
	for _, seg := range strings.Split(path, "/") {
		if tokenLike(seg) {
			return "a token-like path segment"
		}
	}
	return ""
}

// tokenLike: 20 or more characters of [A-Za-z0-9_-] with both letters and digits.
func tokenLike(s string) bool {
	if len(s) < 20 {
		return false
	}
	var letter, digit bool
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digit = true
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
			letter = true
		case r == '_' || r == '-':
		default:
			return false
		}
	}
	return letter && digit
}
