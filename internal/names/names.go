// Package names holds Cloudflare's naming rules and zerocost's naming scheme for
// the resources of a product.
package names

import (
	"fmt"
	"regexp"
	"time"
)

// Rules, phrased for error messages.
const (
	ProductNameRule = "use 1 to 40 lower-case letters, digits and dashes, starting with a letter and not ending with a dash"
	StackNameRule   = "use 1 to 16 lower-case letters, digits and dashes, starting with a letter and not ending with a dash"
	ScriptNameRule  = "Worker script names are 1 to 63 lower-case letters, digits, dashes and underscores, starting and ending with a letter or digit"
	BucketNameRule  = "R2 bucket names are 3 to 63 lower-case letters, digits and dashes, starting and ending with a letter or digit"
	QueueNameRule   = "queue names are 1 to 63 lower-case letters, digits and dashes, starting and ending with a letter or digit"
	// DatabaseNameRule is zerocost's rule for D1 database names, a subset
	// of what Cloudflare accepts (letters, digits, dashes and underscores).
	DatabaseNameRule = "D1 database names are 1 to 63 lower-case letters, digits and dashes, starting and ending with a letter or digit"
	// WorkflowNameRule is zerocost's rule for Workflow names, a subset of
	// what wrangler accepts (at most 64 letters, digits, dashes and
	// underscores, not starting with a dash: workers-sdk's
	// workflows-shared/src/lib/validators.ts).
	WorkflowNameRule = "Workflow names are 1 to 64 lower-case letters, digits and dashes, starting and ending with a letter or digit"
)

var (
	productRe = regexp.MustCompile(`^[a-z](?:[a-z0-9-]{0,38}[a-z0-9])?$`)
	stackRe   = regexp.MustCompile(`^[a-z](?:[a-z0-9-]{0,14}[a-z0-9])?$`)
	scriptRe  = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?$`)
	bucketRe  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	queueRe   = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)
	hexID     = regexp.MustCompile(`^[0-9a-f]{32}$`)
	labelRe   = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)
	hostRe    = regexp.MustCompile(`^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
	bindingRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	flowRe    = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$`)
)

func IsProductName(s string) bool  { return productRe.MatchString(s) }
func IsStackName(s string) bool    { return stackRe.MatchString(s) }
func IsScriptName(s string) bool   { return scriptRe.MatchString(s) }
func IsBucketName(s string) bool   { return bucketRe.MatchString(s) }
func IsQueueName(s string) bool    { return queueRe.MatchString(s) }
func IsDatabaseName(s string) bool { return queueRe.MatchString(s) }
func IsAccountID(s string) bool    { return hexID.MatchString(s) }
func IsZoneID(s string) bool       { return hexID.MatchString(s) }
func IsDNSLabel(s string) bool     { return labelRe.MatchString(s) }
func IsHostname(s string) bool     { return len(s) <= 253 && hostRe.MatchString(s) }
func IsBindingName(s string) bool  { return bindingRe.MatchString(s) }
func IsWorkflowName(s string) bool { return flowRe.MatchString(s) }

// IsDate reports whether s is a YYYY-MM-DD date.
func IsDate(s string) bool {
	_, err := time.Parse("2006-01-02", s)
	return err == nil
}

// Script is the Worker script name of a product in a stack.
func Script(product, stack string) string { return product + "-" + stack }

// Bucket is the name of a product's R2 bucket for outputs.
func Bucket(product, stack string) string { return Script(product, stack) + "-outputs" }

// Queue is the name of a product's job queue.
func Queue(product, stack string) string { return Script(product, stack) + "-jobs" }

// Workflow is the name of an event agent's Workflow (runner: workflow).
func Workflow(product, stack string) string { return Script(product, stack) + "-jobs" }

// DeadLetterQueue is the name of the dead-letter queue behind a queue.
func DeadLetterQueue(queue string) string { return queue + "-dlq" }

// KeysNamespace is the title of a product's KV namespace of customer keys.
func KeysNamespace(product, stack string) string { return Script(product, stack) + "-keys" }

// SpendDatabase names the stack's spend counter, the one D1 database of a
// stack with a budget. The zerocost- prefix keeps it apart from every
// product's resources (named <product>-<stack>...).
func SpendDatabase(stack string) string { return "zerocost-" + stack + "-spend" }

// Check returns an error naming the rule when name breaks it.
func Check(kind, name string) error {
	var ok bool
	var rule string
	switch kind {
	case "script":
		ok, rule = IsScriptName(name), ScriptNameRule
	case "bucket":
		ok, rule = IsBucketName(name), BucketNameRule
	case "queue":
		ok, rule = IsQueueName(name), QueueNameRule
	case "database":
		ok, rule = IsDatabaseName(name), DatabaseNameRule
	case "workflow":
		ok, rule = IsWorkflowName(name), WorkflowNameRule
	default:
		return fmt.Errorf("unknown resource kind %q", kind)
	}
	if !ok {
		return fmt.Errorf("%s name %q is invalid: %s", kind, name, rule)
	}
	return nil
}
