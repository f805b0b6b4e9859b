package verify

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the report as indented JSON (docs/verify.md, "JSON").
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	rep := *r
	if rep.Checks == nil {
		rep.Checks = []Check{}
	}
	return enc.Encode(rep)
}

// WriteTable writes a readable table and a summary line.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "PRODUCT\tKIND\tCHECK\tSTATUS\tLATENCY\tDETAIL\n")
	for _, c := range r.Checks {
		status := "ok"
		if c.Status != Pass {
			status = "FAIL"
		}
		detail := strings.ReplaceAll(c.Detail, "\n", " ")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.Product, c.Kind, c.Check, status, latency(c.LatencyMS), clip(detail, 160))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	failed := r.Failed()
	fmt.Fprintf(w, "\n%s, %s: %d checks, %d passed, %d failed (%s)\n", r.Stack, r.Target, len(r.Checks), len(r.Checks)-len(failed), len(failed), latency(r.DurationMS))
	for _, c := range failed {
		fmt.Fprintf(w, "  FAIL %s: %s: %s\n", c.Product, c.Check, c.Detail)
	}
	return nil
}

func latency(ms int64) string {
	if ms < 1000 {
		return fmt.Sprintf("%dms", ms)
	}
	return fmt.Sprintf("%.1fs", float64(ms)/1000)
}

// JUnit XML, as CI systems read it (the Ant/Surefire schema).
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

func seconds(ms int64) string { return fmt.Sprintf("%.3f", float64(ms)/1000) }

// WriteJUnit writes the report as JUnit XML: a testsuite per product, a
// testcase per check (classname <stack>.<product>.<kind>), and a failure
// element, with the detail as its message, per failed check.
func (r *Report) WriteJUnit(w io.Writer) error {
	out := junitSuites{Name: "zerocost verify " + r.Stack + " (" + r.Target + ")", Time: seconds(r.DurationMS)}
	index := map[string]int{}
	for _, c := range r.Checks {
		i, ok := index[c.Product]
		if !ok {
			i = len(out.Suites)
			index[c.Product] = i
			out.Suites = append(out.Suites, junitSuite{
				Name: c.Product, Timestamp: r.StartedAt.UTC().Format("2006-01-02T15:04:05"),
				Properties: []junitProperty{{"stack", r.Stack}, {"target", r.Target}},
			})
		}
		s := &out.Suites[i]
		tc := junitCase{Name: c.Check, Classname: r.Stack + "." + c.Product + "." + string(c.Kind), Time: seconds(c.LatencyMS)}
		if c.Status != Pass {
			text := c.Detail
			for _, d := range c.Drift {
				text += "\n" + d.String()
			}
			tc.Failure = &junitFailure{Message: clip(c.Detail, 1000), Type: string(c.Kind), Text: text}
			s.Failures++
			out.Failures++
		} else if c.Detail != "" {
			tc.SystemOut = c.Detail
		}
		s.Tests++
		out.Tests++
		s.Cases = append(s.Cases, tc)
	}
	for i := range out.Suites {
		var ms int64
		for _, c := range r.Checks {
			if c.Product == out.Suites[i].Name {
				ms += c.LatencyMS
			}
		}
		out.Suites[i].Time = seconds(ms)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
