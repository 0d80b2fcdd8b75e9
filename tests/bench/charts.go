// charts.go draws the report's SVG charts with gonum.org/v1/plot: req/s and CPU per request
// per target and connection count (the side-by-side `/api/v1/me` targets and the cache-miss
// loads), and the gateway's CPU per flow split by handler (from the flow CPU profile, see
// handlers.go). They are written next to the report and linked from it.

package main

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// chart is one written chart: its path relative to the report and its alt text.
type chart struct{ file, alt string }

// series is one bar colour of a grouped bar chart: a value per group (NaN: no bar).
type series struct {
	name   string
	values []float64
}

// groupedBars draws one bar per series in each group.
func groupedBars(title, ylabel string, groups []string, ss []series) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	top := 0.0
	for _, s := range ss {
		for _, x := range s.values {
			top = max(top, x)
		}
	}
	w := vg.Points(min(14, 300/float64(max(len(ss)*len(groups), 1))))
	for i, s := range ss {
		b, err := plotter.NewBarChart(plotter.Values(s.values), w)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		b.LineStyle.Width = 0
		b.Color = palette[i%len(palette)]
		b.Offset = w * vg.Length(float64(i)-float64(len(ss)-1)/2)
		p.Add(b)
		p.Legend.Add(s.name+strings.Repeat(" ", 2+len(s.name)/5), b) // see the note in writeCharts
	}
	p.NominalX(groups...)
	p.Add(plotter.NewGrid())
	p.Y.Min = 0
	p.Y.Max = 1.6 * top // room for the legend above the bars
	return p, nil
}

// palette has a distinct colour for each series of the charts (plotutil's repeats after 7).
var palette = []color.Color{
	color.RGBA{0x4e, 0x79, 0xa7, 0xff}, color.RGBA{0xf2, 0x8e, 0x2b, 0xff}, color.RGBA{0xe1, 0x57, 0x59, 0xff},
	color.RGBA{0x76, 0xb7, 0xb2, 0xff}, color.RGBA{0x59, 0xa1, 0x4f, 0xff}, color.RGBA{0xed, 0xc9, 0x48, 0xff},
	color.RGBA{0xb0, 0x7a, 0xa1, 0xff}, color.RGBA{0xff, 0x9d, 0xa7, 0xff}, color.RGBA{0x9c, 0x75, 0x5f, 0xff},
	color.RGBA{0xba, 0xb0, 0xac, 0xff},
}

// horizontalBars draws one bar per label, values left to right.
func horizontalBars(title, xlabel string, labels []string, values []float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	b, err := plotter.NewBarChart(plotter.Values(values), vg.Points(14))
	if err != nil {
		return nil, err
	}
	b.Horizontal = true
	b.LineStyle.Width = 0
	b.Color = color.RGBA{R: 0x33, G: 0x66, B: 0x99, A: 0xff}
	p.Add(b)
	p.NominalY(labels...)
	p.X.Min = 0
	top := 0.0
	for _, v := range values {
		top = max(top, v)
	}
	p.X.Max = 1.1 * top
	return p, nil
}

// chartTargets are the `/api/v1/me` targets of the side-by-side matrix, then the cache-miss
// loads (only at the connection counts they ran at).
func chartSeries(rep *report, value func(*cell) float64) (groups []string, ss []series) {
	for _, c := range rep.o.concs {
		groups = append(groups, fmt.Sprintf("%d conns", c))
	}
	add := func(name string, cells map[int]*cell) {
		s := series{name: name}
		any := false
		for _, c := range rep.o.concs {
			v := 0.0 // no bar
			if cl := cells[c]; cl != nil && cl.requests > 0 {
				v, any = value(cl), true
			}
			s.values = append(s.values, v)
		}
		if any {
			ss = append(ss, s)
		}
	}
	names := map[string]string{"direct": "upstream direct", "plain": "Caddy reverse_proxy", "protected": "gateway (cached token)", "peer": "oauth2-proxy"}
	for _, k := range []string{"direct", "plain", "protected", "peer"} {
		if rep.matrix[k] != nil {
			add(names[k], rep.matrix[k])
		}
	}
	if m := rep.miss; m != nil {
		missNames := map[string]string{"gateway-pool": fmt.Sprintf("gateway, %dk-token pool", m.pool/1000), "gateway-fresh": "gateway, every token new",
			"peer-pool": fmt.Sprintf("oauth2-proxy, %dk-token pool", m.pool/1000), "peer-fresh": "oauth2-proxy, every token new"}
		for _, t := range m.targets {
			add(missNames[t.key], m.cells[t.key])
		}
	}
	return groups, ss
}

// chartLabel shortens the long bucket names for the chart's axis (the table has them whole).
func chartLabel(bucket string) string {
	switch bucket {
	case bucketCaddy:
		return "Caddy server"
	case bucketConn:
		return "net/http server"
	case bucketOutbound:
		return "outbound HTTP"
	case bucketBadger:
		return "Badger goroutines"
	case bucketOutside:
		return "other"
	}
	return bucket
}

// writeCharts writes the charts into dir (relative to the report: rel) and records them.
func writeCharts(rep *report, dir, rel string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	save := func(p *plot.Plot, w, h vg.Length, name, alt string) error {
		if err := p.Save(w, h, filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("chart %s: %w", name, err)
		}
		rep.charts = append(rep.charts, chart{file: filepath.ToSlash(filepath.Join(rel, name)), alt: alt})
		return nil
	}
	if rep.matrix != nil || rep.miss != nil {
		groups, ss := chartSeries(rep, (*cell).rps)
		p, err := groupedBars("GET /api/v1/me: requests per second", "req/s", groups, ss)
		if err != nil {
			return err
		}
		if err := save(p, 9*vg.Inch, 4.5*vg.Inch, "rps.svg", "req/s per target and connection count"); err != nil {
			return err
		}
		groups, ss = chartSeries(rep, (*cell).cpuPerRequest)
		if p, err = groupedBars("GET /api/v1/me: CPU time of the serving process per request", "µs of CPU per request", groups, ss); err != nil {
			return err
		}
		if err := save(p, 9*vg.Inch, 4.5*vg.Inch, "cpu-per-request.svg", "CPU per request per target and connection count"); err != nil {
			return err
		}
	}
	if path, ok := rep.profPaths["flows"]; ok {
		shares, err := profileHandlerShares(path)
		if err != nil {
			return err
		}
		rep.flowShares = shares
		perFlow := 1000 * rep.flows["shipped"].cpuPerFlow() // ms
		var labels []string
		var values []float64
		// Smallest at the bottom of the list = drawn first; pprof order is largest first.
		for i := len(shares) - 1; i >= 0; i-- {
			// Trailing spaces: the width is measured with the plot's own font, while a browser
			// without it draws a wider fallback (and drops trailing spaces), which would run the
			// label into the bar.
			l := chartLabel(shares[i].bucket)
			labels = append(labels, l+strings.Repeat(" ", 2+len(l)/5))
			values = append(values, shares[i].share*perFlow)
		}
		p, err := horizontalBars(fmt.Sprintf("Gateway CPU per full flow by handler (%.2f ms in all)", perFlow), "ms of CPU per flow", labels, values)
		if err != nil {
			return err
		}
		if err := save(p, 9*vg.Inch, 4.5*vg.Inch, "flow-cpu-by-handler.svg", "gateway CPU per flow by handler"); err != nil {
			return err
		}
	}
	return nil
}
