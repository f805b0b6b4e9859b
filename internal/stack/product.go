package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/zerocost/zerocost/internal/cronexpr"
	"github.com/zerocost/zerocost/internal/names"
)

// parseProducts decodes the products, applies their defaults and validates
// them, reporting every problem of every product.
func parseProducts(v Value) ([]Product, []error) {
	field := Namespace + ":" + KeyProducts
	if strings.TrimSpace(v.Text) == "" {
		return nil, []error{errf(field, "missing: list at least one product (name, pattern)")}
	}
	var raws []json.RawMessage
	if err := json.Unmarshal([]byte(v.Text), &raws); err != nil {
		return nil, []error{errf(field, "must be a list of products: %v", err)}
	}
	if len(raws) == 0 {
		return nil, []error{errf(field, "is empty: list at least one product")}
	}
	var errs []error
	prods := make([]Product, 0, len(raws))
	seen := map[string]int{}
	for i, raw := range raws {
		pf := fmt.Sprintf("%s[%d]", field, i)
		// Every unknown key, at any level, is reported, with its path and
		// the key that was meant; the rest of the product is still decoded
		// and checked, so one run shows every problem.
		errs = append(errs, unknownProductKeys(pf, raw)...)
		var p Product
		if err := json.Unmarshal(raw, &p); err != nil {
			errs = append(errs, jsonErr(pf, err))
			continue
		}
		if j, dup := seen[p.Name]; dup && p.Name != "" {
			errs = append(errs, errf(pf+".name", "%q is used by %s[%d] too: product names must be unique", p.Name, field, j))
		}
		seen[p.Name] = i
		p.applyDefaults()
		errs = append(errs, p.validate(pf)...)
		prods = append(prods, p)
	}
	return prods, errs
}

// jsonErr is the error of a product that does not decode; a value of the
// wrong type is named by its path (zerocost:products[0].settings.batchSize).
func jsonErr(field string, err error) *Error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			field += "." + te.Field
		}
		return errf(field, "must be %s, not a JSON %s", typeName(te.Type), te.Value)
	}
	return errf(field, "%s", strings.TrimPrefix(err.Error(), "json: "))
}

// typeName says what a config value must be, in the words of the YAML.
func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(typeName(t.Elem()), "a "), "an ") + "s"
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return "a map of keys"
	}
	return "a " + t.String()
}

// applyDefaults fills what the product leaves unset: its model, its access
// and tiers, and its pattern's settings (SettingsTable).
func (p *Product) applyDefaults() {
	if p.Model == "" {
		p.Model = DefaultModel
	}
	p.defaultAccess()
	p.Settings.applyDefaults(p.Pattern)
}

// validate checks a product with its defaults applied; field is the
// product's (zerocost:products[0]).
func (p *Product) validate(field string) []error {
	var errs []error
	add := func(e *Error) { errs = append(errs, e) }

	if p.Name == "" {
		add(errf(field+".name", "missing"))
	} else if !names.IsProductName(p.Name) {
		add(errf(field+".name", "%q is not a valid product name: %s", p.Name, names.ProductNameRule))
	}
	if !slices.Contains(Patterns, p.Pattern) {
		add(errf(field+".pattern", "%q is not a pattern zerocost knows (one of: %s)", p.Pattern, strings.Join(Patterns, ", ")))
	}
	if p.SystemPrompt != "" && p.SystemPromptFile != "" {
		add(errf(field+".systemPromptFile", "give systemPrompt or systemPromptFile, not both"))
	}
	if len(p.SystemPrompt) > MaxPlainTextVarBytes {
		add(errf(field+".systemPrompt", "is %d bytes; a Worker variable holds at most %d", len(p.SystemPrompt), MaxPlainTextVarBytes))
	}
	if p.Route != nil && p.CustomDomain != nil {
		add(errf(field+".customDomain", "give route or customDomain, not both"))
	}
	if p.Route != nil {
		if p.Route.Pattern == "" || strings.Contains(p.Route.Pattern, "://") {
			add(errf(field+".route.pattern", "%q must be a route pattern like example.com/ai/* (no scheme)", p.Route.Pattern))
		}
		if !names.IsZoneID(p.Route.ZoneID) {
			add(errf(field+".route.zoneId", "%q is not a zone id (32 hexadecimal characters)", p.Route.ZoneID))
		}
	}
	if p.CustomDomain != nil {
		if !names.IsHostname(p.CustomDomain.Hostname) {
			add(errf(field+".customDomain.hostname", "%q is not a hostname", p.CustomDomain.Hostname))
		}
		if !names.IsZoneID(p.CustomDomain.ZoneID) {
			add(errf(field+".customDomain.zoneId", "%q is not a zone id (32 hexadecimal characters)", p.CustomDomain.ZoneID))
		}
	}
	for i, c := range p.Crons {
		if _, err := cronexpr.Parse(c); err != nil {
			add(errf(fmt.Sprintf("%s.crons[%d]", field, i), "%v", err))
		}
	}
	errs = append(errs, p.validateAccess(field)...)
	return append(errs, p.Settings.validate(field+".settings", p.Pattern)...)
}

// CronTriggers are the cron triggers of a product: its own, then, in batch
// mode, the batch poller's unless one of its own is the same schedule.
func (p *Product) CronTriggers() []string {
	crons := slices.Clone(p.Crons)
	if p.Settings.ModelMode == ModelModeBatch && p.Settings.BatchPollCron != "" && !slices.Contains(crons, p.Settings.BatchPollCron) {
		crons = append(crons, p.Settings.BatchPollCron)
	}
	return crons
}
