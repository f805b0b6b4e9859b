package verify

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

func sampleReport() *Report {
	return &Report{
		Stack: "demo", Target: TargetDeployed, Passed: false, DurationMS: 2500,
		StartedAt: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC),
		Checks: []Check{
			{Product: "sales-engine", Check: CheckHealth, Kind: KindRoute, Status: Pass, LatencyMS: 12, Detail: "event-agent, sales-engine"},
			{Product: "sales-engine", Check: CheckJob, Kind: KindRoute, Status: Fail, LatencyMS: 2000, Detail: `not done within 2s (20 polls): x still "queued" & <stuck>`},
			{Product: "email-worker", Check: "consumer of email-worker-demo-jobs", Kind: KindResource, Status: Fail, LatencyMS: 30,
				Detail: "mismatched settings.batch_size: expected 5, got 10",
				Drift:  []Drift{{Kind: Mismatched, Name: "settings.batch_size", Expected: "5", Actual: "10"}}},
			{Product: "email-worker", Check: "r2 bucket email-worker-demo-outputs", Kind: KindResource, Status: Pass, LatencyMS: 1},
		},
	}
}

// The JSON schema of docs/verify.md, parsed back.
func TestJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Stack      string `json:"stack"`
		Target     string `json:"target"`
		Passed     *bool  `json:"passed"`
		StartedAt  string `json:"started_at"`
		DurationMS int64  `json:"duration_ms"`
		Checks     []struct {
			Product   string  `json:"product"`
			Check     string  `json:"check"`
			Kind      string  `json:"kind"`
			Status    string  `json:"status"`
			LatencyMS *int64  `json:"latency_ms"`
			Detail    string  `json:"detail"`
			Drift     []Drift `json:"drift"`
		} `json:"checks"`
	}
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.Stack != "demo" || doc.Target != "deployed" || doc.Passed == nil || *doc.Passed || doc.StartedAt != "2026-11-27T12:00:00Z" || doc.DurationMS != 2500 {
		t.Errorf("header %+v", doc)
	}
	if len(doc.Checks) != 4 {
		t.Fatalf("checks %+v", doc.Checks)
	}
	c := doc.Checks[2]
	if c.Kind != "resource" || c.Status != "fail" || c.LatencyMS == nil || *c.LatencyMS != 30 || len(c.Drift) != 1 || c.Drift[0].Expected != "5" {
		t.Errorf("check %+v", c)
	}
	if doc.Checks[0].Status != "pass" || doc.Checks[0].Drift != nil {
		t.Errorf("passing check %+v", doc.Checks[0])
	}
	// An empty report still has "checks": [].
	buf.Reset()
	(&Report{Stack: "s", Target: "local", Passed: true}).WriteJSON(&buf)
	if !strings.Contains(buf.String(), `"checks": []`) {
		t.Errorf("empty report %s", buf.String())
	}
}

func TestJUnit(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteJUnit(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), `<?xml version="1.0" encoding="UTF-8"?>`) {
		t.Errorf("no XML header: %.80s", buf.String())
	}
	var doc struct {
		XMLName  xml.Name `xml:"testsuites"`
		Tests    int      `xml:"tests,attr"`
		Failures int      `xml:"failures,attr"`
		Time     string   `xml:"time,attr"`
		Suites   []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Errors   int    `xml:"errors,attr"`
			Time     string `xml:"time,attr"`
			Props    []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:"value,attr"`
			} `xml:"properties>property"`
			Cases []struct {
				Name      string `xml:"name,attr"`
				Classname string `xml:"classname,attr"`
				Time      string `xml:"time,attr"`
				Failure   *struct {
					Message string `xml:"message,attr"`
					Type    string `xml:"type,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	dec := xml.NewDecoder(&buf)
	dec.Strict = true
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.Tests != 4 || doc.Failures != 2 || doc.Time != "2.500" || len(doc.Suites) != 2 {
		t.Fatalf("testsuites %+v", doc)
	}
	s := doc.Suites[0]
	if s.Name != "sales-engine" || s.Tests != 2 || s.Failures != 1 || s.Errors != 0 || s.Time != "2.012" || len(s.Props) != 2 || s.Props[0].Value != "demo" {
		t.Errorf("suite %+v", s)
	}
	job := s.Cases[1]
	if job.Name != "job" || job.Classname != "demo.sales-engine.route" || job.Time != "2.000" || job.Failure == nil ||
		job.Failure.Message != `not done within 2s (20 polls): x still "queued" & <stuck>` || job.Failure.Type != "route" {
		t.Errorf("job case %+v %+v", job, job.Failure)
	}
	if s.Cases[0].Failure != nil {
		t.Error("a passing case has a failure")
	}
	consumer := doc.Suites[1].Cases[0]
	if consumer.Classname != "demo.email-worker.resource" || !strings.Contains(consumer.Failure.Text, "mismatched settings.batch_size: expected 5, got 10") {
		t.Errorf("consumer case %+v", consumer)
	}
}

func TestTable(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"PRODUCT", "sales-engine  route     health", "ok", "12ms", "2.0s",
		"demo, deployed: 4 checks, 2 passed, 2 failed (2.5s)",
		"FAIL sales-engine: job: not done within 2s",
		"FAIL email-worker: consumer of email-worker-demo-jobs: mismatched settings.batch_size",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
