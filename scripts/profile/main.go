// Command profile renders a chart in-process with Helm 4's own packages (the engine patched by
// scripts/profile-templates) and prints where the template time and allocations go, per
// included template and per template file. See scripts/profile-templates.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"time"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	"sigs.k8s.io/yaml"
)

func main() {
	values := flag.String("values", "", "values file (default: the chart's defaults)")
	renders := flag.Int("renders", 5, "renders to average over")
	top := flag.Int("top", 25, "rows to print")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: profile [-values FILE] [-renders N] [-top N] CHART_DIR")
		os.Exit(2)
	}
	ch, err := loader.Load(flag.Arg(0))
	if err != nil {
		fail(err)
	}
	vals := map[string]any{}
	if *values != "" {
		raw, err := os.ReadFile(*values)
		if err != nil {
			fail(err)
		}
		if err := yaml.Unmarshal(raw, &vals); err != nil {
			fail(err)
		}
	}
	var valuesTime, renderTime time.Duration
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < *renders; i++ {
		opts := common.ReleaseOptions{Name: "grpc-ingress", Namespace: "default", IsInstall: true}
		t0 := time.Now()
		rv, err := util.ToRenderValuesWithSchemaValidation(ch, vals, opts, common.DefaultCapabilities, false)
		if err != nil {
			fail(err)
		}
		t1 := time.Now()
		if _, err := engine.Render(ch, rv); err != nil {
			fail(err)
		}
		valuesTime += t1.Sub(t0)
		renderTime += time.Since(t1)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	n := float64(*renders)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / n }
	fmt.Printf("per render: values and schema %.1f ms, templates %.1f ms; %.1f MB allocated in %d allocations\n",
		ms(valuesTime), ms(renderTime), float64(after.TotalAlloc-before.TotalAlloc)/1e6/n, int(float64(after.Mallocs-before.Mallocs)/n))
	type row struct {
		name string
		e    *engine.ProfileEntry
	}
	rows := []row{}
	for k, e := range engine.Profile {
		rows = append(rows, row{k, e})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].e.Exclusive > rows[j].e.Exclusive })
	fmt.Printf("\n%-52s %8s %11s %11s %11s\n", "template (by exclusive time)", "calls", "excl. ms", "incl. ms", "excl. MB")
	for i, r := range rows {
		if i == *top {
			break
		}
		fmt.Printf("%-52s %8.0f %11.2f %11.2f %11.2f\n", r.name, float64(r.e.Calls)/n, ms(r.e.Exclusive), ms(r.e.Inclusive),
			float64(r.e.AllocExclusive)/1e6/n)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "profile:", err)
	os.Exit(1)
}
