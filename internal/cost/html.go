package cost

import (
	"html/template"
	"io"
	"math"
)

// WriteHTML prints the report as a standalone page: inline CSS and an inline
// SVG bar chart of infrastructure against model cost per product, no scripts,
// no fonts, nothing fetched.
func WriteHTML(w io.Writer, r *Report) error {
	return htmlPage.Execute(w, htmlData(r))
}

type htmlBar struct {
	Name            string
	Y               int
	InfraW, ModelW  float64
	InfraUSD, AIUSD string
	TotalUSD        string
	LabelX          float64
}

type htmlView struct {
	R                *Report
	Title            string
	Summary          []string
	Bars             []htmlBar
	ChartH           int
	Levers           []string
	Capacity         [][]string
	Budgets          [][]string
	Total, Infra, AI string
}

const (
	chartLabelW = 150
	chartBarW   = 420
	chartRowH   = 28
)

func htmlData(r *Report) htmlView {
	v := htmlView{R: r, Title: title(r), Summary: summary(r), Capacity: capacityRows(r), Budgets: budgetRows(r), Total: usd(r.TotalUSD), Infra: usd(r.InfraUSD), AI: usd(r.AIUSD)}
	max := 0.0
	for _, p := range r.Products {
		max = math.Max(max, p.TotalUSD)
	}
	for i, p := range r.Products {
		b := htmlBar{Name: p.Name, Y: 30 + i*chartRowH, InfraUSD: usd(p.InfraUSD), AIUSD: usd(p.AIUSD), TotalUSD: usd(p.TotalUSD)}
		if max > 0 {
			b.InfraW = round(p.InfraUSD/max*chartBarW, 1)
			b.ModelW = round(p.AIUSD/max*chartBarW, 1)
		}
		b.LabelX = chartLabelW + b.InfraW + b.ModelW + 6
		v.Bars = append(v.Bars, b)
	}
	v.ChartH = 30 + len(r.Products)*chartRowH + 10
	for _, l := range r.Levers {
		v.Levers = append(v.Levers, leverLine(l))
	}
	return v
}

var htmlPage = template.Must(template.New("cost").Funcs(template.FuncMap{
	"usd":        usd,
	"service":    func(s string) string { return serviceNames[s] },
	"metric":     func(s string) string { return metricNames[s] },
	"itemMetric": itemMetric,
	"quantity":   quantity,
	"price":      unitPrice,
	"plan":       planName,
	"models":     modelList,
	"addf":       func(a, b float64) float64 { return a + b },
}).Parse(`{{define "items"}}
{{- range .}}
<li>{{.}}</li>
{{- end}}
{{- end -}}
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>zerocost cost: {{.R.Source}}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #1f2328; }
h1 { font-size: 1.4rem; }
h2 { font-size: 1.1rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid #d0d7de; text-align: right; }
th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align: left; }
.total td { font-weight: bold; }
.warn li { color: #9a6700; }
.note { color: #59636e; font-size: .9rem; }
svg text { font-size: 12px; fill: #1f2328; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<svg role="img" aria-label="Infrastructure and model cost per product" width="620" height="{{.ChartH}}" viewBox="0 0 620 {{.ChartH}}" xmlns="http://www.w3.org/2000/svg">
<rect x="150" y="4" width="12" height="12" fill="#0969da"/><text x="166" y="14">infrastructure</text>
<rect x="270" y="4" width="12" height="12" fill="#bf8700"/><text x="286" y="14">model</text>
{{- range .Bars}}
<text x="0" y="{{.Y}}" dy="14">{{.Name}}</text>
<rect x="150" y="{{.Y}}" width="{{.InfraW}}" height="18" fill="#0969da"><title>{{.Name}}: infrastructure {{.InfraUSD}}</title></rect>
<rect x="{{printf "%.1f" (addf 150 .InfraW)}}" y="{{.Y}}" width="{{.ModelW}}" height="18" fill="#bf8700"><title>{{.Name}}: model {{.AIUSD}}</title></rect>
<text x="{{.LabelX}}" y="{{.Y}}" dy="14">{{.TotalUSD}}</text>
{{- end}}
</svg>
<table>
<tr><th>Product</th><th>Pattern</th><th>Infra</th><th>Model</th><th>Total</th></tr>
{{- range .R.Products}}
<tr><td>{{.Name}}</td><td>{{.Pattern}}</td><td>{{usd .InfraUSD}}</td><td>{{usd .AIUSD}}</td><td>{{usd .TotalUSD}}</td></tr>
{{- end}}
{{- range .R.AccountItems}}
<tr><td>account</td><td>{{metric .Metric}}</td><td>{{usd .USD}}</td><td></td><td>{{usd .USD}}</td></tr>
{{- end}}
<tr class="total"><td>Total</td><td></td><td>{{.Infra}}</td><td>{{.AI}}</td><td>{{.Total}}</td></tr>
</table>
{{- range .Summary}}
<p>{{.}}</p>
{{- end}}
{{- if .Capacity}}
<h2>Free-tier capacity (requests a day at $0 on Workers Free)</h2>
<table>
<tr><th>Product</th><th>Today</th><th>At $0</th><th>Headroom</th><th>First limit</th><th>Next limit</th></tr>
{{- range .Capacity}}
<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{- end}}
</table>
{{- end}}
{{- if .Budgets}}
<h2>Model budgets</h2>
<table>
<tr><th>Product</th><th>Budget</th><th>Model spend</th><th>Used</th><th>Runs out</th></tr>
{{- range .Budgets}}
<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{- end}}
</table>
{{- end}}
{{- if .R.Warnings}}
<h2>Warnings ({{plan .R.Plan}})</h2>
<ul class="warn">
{{- template "items" .R.Warnings}}
</ul>
{{- end}}
{{- if .Levers}}
<h2>Levers</h2>
<ul>
{{- template "items" .Levers}}
</ul>
{{- end}}
{{- if .R.Notes}}
<h2>Notes</h2>
<ul class="note">
{{- template "items" .R.Notes}}
</ul>
{{- end}}
<h2>Line items</h2>
{{- range .R.Products}}
<h3>{{.Name}} ({{.Pattern}}, {{models .}})</h3>
{{- if not .Items}}
<p>No usage.</p>
{{- else}}
<table>
<tr><th>Service</th><th>Metric</th><th>Quantity</th><th>Billable</th><th>Price</th><th>Cost</th></tr>
{{- range .Items}}
<tr><td>{{service .Service}}</td><td>{{itemMetric .}}</td><td>{{quantity .Quantity .Unit}}</td><td>{{quantity .Billable .Unit}}</td><td>{{price .}}</td><td>{{usd .USD}}</td></tr>
{{- end}}
</table>
{{- end}}
{{- end}}
<p class="note">zerocost cost {{.R.Kind}}, prices {{.R.Prices}}: every price's source page is in the price file.</p>
</body>
</html>
`))
