package cloudflare

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/zerocost/zerocost/internal/pulumitool"
)

func loadSchema(t *testing.T) Schema {
	t.Helper()
	data, err := os.ReadFile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var s Schema
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestStructsMatchSchema checks every args and state struct against the
// provider's schema: each property exists under that name with that type,
// each required input is a required field, each aliased token is declared.
// A provider upgrade that renames a property or adds a required one fails
// here once schema.json is regenerated.
func TestStructsMatchSchema(t *testing.T) {
	s := loadSchema(t)
	if s.Name != "cloudflare" || s.Version != ProviderVersion {
		t.Fatalf("schema.json is %s %s, ProviderVersion is %s: regenerate it (go generate ./infra/cloudflare)", s.Name, s.Version, ProviderVersion)
	}
	if len(s.Resources) != len(Resources) {
		t.Errorf("schema.json has %d resources, the package registers %d", len(s.Resources), len(Resources))
	}
	for _, spec := range Resources {
		for _, p := range specProblems(s, spec) {
			t.Error(p)
		}
	}
}

// TestSchemaCheckCatchesDrift feeds the check structs that disagree with the
// schema, as a provider upgrade would make them: each disagreement is named.
func TestSchemaCheckCatchesDrift(t *testing.T) {
	s := loadSchema(t)
	type renamed struct {
		AccountId pulumi.StringInput `pulumi:"accountId"`
		Name      pulumi.StringInput `pulumi:"bucketName"`
	}
	type wrongType struct {
		AccountId pulumi.StringInput  `pulumi:"accountId"`
		Name      pulumi.Float64Input `pulumi:"name"`
	}
	type missingRequired struct {
		AccountId pulumi.StringInput `pulumi:"accountId"`
	}
	type optionalRequired struct {
		AccountId pulumi.StringInput `pulumi:"accountId"`
		Name      pulumi.StringInput `pulumi:"name,optional"`
	}
	type nested struct {
		AccountId pulumi.StringInput `pulumi:"accountId"`
		QueueId   pulumi.StringInput `pulumi:"queueId"`
		Type      pulumi.StringInput `pulumi:"type"`
		Settings  *struct {
			BatchSize pulumi.IntInput `pulumi:"batchSize,optional"`
		} `pulumi:"settings,optional"`
	}
	r2State := reflect.TypeFor[R2Bucket]()
	for _, c := range []struct {
		spec Spec
		want string
	}{
		{Spec{TokenR2Bucket, reflect.TypeFor[renamed](), r2State, nil}, `property "bucketName", which the schema does not have`},
		{Spec{TokenR2Bucket, reflect.TypeFor[wrongType](), r2State, nil}, `args.name: the schema has string`},
		{Spec{TokenR2Bucket, reflect.TypeFor[missingRequired](), r2State, nil}, `the schema requires "name"`},
		{Spec{TokenR2Bucket, reflect.TypeFor[optionalRequired](), r2State, nil}, `property "name": optional is true`},
		{Spec{TokenR2Bucket, reflect.TypeFor[R2BucketArgs](), r2State, []string{"cloudflare:index/old:Old"}}, `aliases`},
		{Spec{TokenQueueConsumer, reflect.TypeFor[nested](), reflect.TypeFor[QueueConsumer](), nil}, `settings.batchSize: the schema has number`},
	} {
		got := strings.Join(specProblems(s, c.spec), "\n")
		if !strings.Contains(got, c.want) {
			t.Errorf("%v: problems %q, want one containing %q", c.spec.Args, got, c.want)
		}
	}
}

func specProblems(s Schema, spec Spec) []string {
	r, ok := s.Resources[spec.Token]
	if !ok {
		return []string{spec.Token + ": not in schema.json"}
	}
	var out []string
	out = append(out, objectProblems(s, spec.Token+" args", spec.Args, r.InputProperties, r.RequiredInputs, true)...)
	out = append(out, objectProblems(s, spec.Token+" state", spec.State, r.Properties, nil, false)...)
	var aliases []string
	for _, a := range r.Aliases {
		aliases = append(aliases, a.Type)
	}
	if !slices.Equal(aliases, spec.Aliases) {
		out = append(out, fmt.Sprintf("%s: aliases %v, the schema declares %v", spec.Token, spec.Aliases, aliases))
	}
	return out
}

// objectProblems compares a struct's tagged fields with an object's
// properties. For inputs, a field is optional exactly when the schema does
// not require it.
func objectProblems(s Schema, where string, typ reflect.Type, props map[string]SchemaProperty, required []string, inputs bool) []string {
	var out []string
	seen := map[string]bool{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, optional := ParseTag(f.Tag)
		if name == "" {
			continue
		}
		seen[name] = true
		p, ok := props[name]
		if !ok {
			out = append(out, fmt.Sprintf("%s: field %s has property %q, which the schema does not have", where, f.Name, name))
			continue
		}
		if inputs && optional == slices.Contains(required, name) {
			out = append(out, fmt.Sprintf("%s: property %q: optional is %v, the schema's required list says the opposite", where, name, optional))
		}
		out = append(out, typeProblems(s, where+"."+name, f.Type, p, inputs)...)
	}
	if inputs {
		for _, name := range required {
			if !seen[name] {
				out = append(out, fmt.Sprintf("%s: the schema requires %q, which no field sets", where, name))
			}
		}
	}
	return out
}

var (
	primitiveInputTypes = map[string]reflect.Type{
		"string":  reflect.TypeFor[pulumi.StringInput](),
		"number":  reflect.TypeFor[pulumi.Float64Input](),
		"integer": reflect.TypeFor[pulumi.IntInput](),
		"boolean": reflect.TypeFor[pulumi.BoolInput](),
	}
	primitiveOutputTypes = map[string]reflect.Type{
		"string":  reflect.TypeFor[pulumi.StringOutput](),
		"number":  reflect.TypeFor[pulumi.Float64Output](),
		"integer": reflect.TypeFor[pulumi.IntOutput](),
		"boolean": reflect.TypeFor[pulumi.BoolOutput](),
	}
	stringArrayInput = reflect.TypeFor[pulumi.StringArrayInput]()
)

func typeProblems(s Schema, where string, ft reflect.Type, p SchemaProperty, inputs bool) []string {
	switch {
	case p.Ref != "":
		obj, ok := s.Types[p.TypeToken()]
		if !ok {
			return []string{fmt.Sprintf("%s: type %s missing from schema.json", where, p.Ref)}
		}
		st := ft
		if st.Kind() == reflect.Pointer {
			st = st.Elem()
		}
		if st.Kind() != reflect.Struct {
			return []string{fmt.Sprintf("%s: the schema has an object (%s), the field is %v", where, p.TypeToken(), ft)}
		}
		return objectProblems(s, where, st, obj.Properties, obj.Required, inputs)
	case p.Type == "array":
		if inputs && ft == stringArrayInput && p.Items != nil && p.Items.Type == "string" {
			return nil
		}
		if ft.Kind() != reflect.Slice || p.Items == nil {
			return []string{fmt.Sprintf("%s: the schema has an array, the field is %v", where, ft)}
		}
		return typeProblems(s, where+"[]", ft.Elem(), *p.Items, inputs)
	default:
		want := primitiveInputTypes[p.Type]
		if !inputs {
			want = primitiveOutputTypes[p.Type]
		}
		if want == nil || ft != want {
			return []string{fmt.Sprintf("%s: the schema has %s, the field is %v (want %v)", where, p.Type, ft, want)}
		}
	}
	return nil
}

// TestSchemaMatchesPlugin reads the schema from the installed provider plugin
// and checks that schema.json is exactly its filtered form: a plugin upgrade
// without `go generate ./infra/cloudflare` fails here.
func TestSchemaMatchesPlugin(t *testing.T) {
	tools, err := pulumitool.Find(filepath.Join("..", ".."))
	if err != nil {
		if pulumitool.Required() {
			t.Fatalf("%s is set, and the provider plugin is missing: %v", pulumitool.EnvRequire, err)
		}
		t.Skipf("the provider plugin is not installed, so schema.json is checked against the structs only: %v", err)
	}
	t.Setenv("PATH", tools.Dirs()+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("PULUMI_HOME", t.TempDir())
	plugin := tools.Provider()
	full, err := ReadPluginSchema(plugin)
	if err != nil {
		t.Fatal(err)
	}
	var head struct{ Version string }
	if err := json.Unmarshal(full, &head); err != nil {
		t.Fatal(err)
	}
	if head.Version != ProviderVersion {
		t.Fatalf("the installed plugin is %s, ProviderVersion is %s: install the pinned plugin, or bump ProviderVersion and run `go generate ./infra/cloudflare`", head.Version, ProviderVersion)
	}
	got, err := FilterSchema(full, Tokens())
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("schema.json differs from the filtered schema of %s: run `go generate ./infra/cloudflare`, then fix the structs until TestStructsMatchSchema passes, then `make e2e`", plugin)
	}
}

// TestRequiredArgs: a nil required field fails before anything is
// registered, nested objects included; optional ones may stay nil.
func TestRequiredArgs(t *testing.T) {
	ok := &WorkersScriptArgs{
		AccountId: pulumi.String("a"), ScriptName: pulumi.String("s"),
		Bindings: []WorkersScriptBinding{{Name: pulumi.String("RL"), Type: pulumi.String("ratelimit"),
			Simple: &WorkersScriptBindingSimple{Limit: pulumi.Float64(1), Period: pulumi.Int(60)}}},
	}
	if err := checkRequired(ok); err != nil {
		t.Fatalf("complete args: %v", err)
	}
	for _, c := range []struct {
		args any
		want string
	}{
		{(*R2BucketArgs)(nil), "missing one or more required arguments"},
		{&R2BucketArgs{AccountId: pulumi.String("a")}, `"name"`},
		{&WorkersScriptArgs{AccountId: pulumi.String("a"), ScriptName: pulumi.String("s"), Bindings: []WorkersScriptBinding{{Name: pulumi.String("X")}}}, `"bindings[0].type"`},
		{&WorkersScriptArgs{AccountId: pulumi.String("a"), ScriptName: pulumi.String("s"), Bindings: []WorkersScriptBinding{{Name: pulumi.String("X"), Type: pulumi.String("ratelimit"), Simple: &WorkersScriptBindingSimple{Limit: pulumi.Float64(1)}}}}, `"bindings[0].simple.period"`},
		{&WorkersCronTriggerArgs{AccountId: pulumi.String("a"), ScriptName: pulumi.String("s")}, `"schedules"`},
	} {
		err := checkRequired(c.args)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%T: error %v, want one naming %s", c.args, err, c.want)
		}
	}
}
