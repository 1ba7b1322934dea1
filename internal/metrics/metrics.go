// Package metrics owns cairn's Prometheus metrics: one registry per server
// (so tests can run several), the collectors, and their HTTP handler.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the server's collectors.
type Metrics struct {
	Registry *prometheus.Registry

	Requests      *prometheus.CounterVec   // op, code (HTTP status)
	Duration      *prometheus.HistogramVec // op
	BytesIn       prometheus.Counter
	BytesOut      prometheus.Counter
	InFlight      prometheus.Gauge
	Rejected      prometheus.Counter     // over the concurrency limit
	AuthFailures  *prometheus.CounterVec // reason (AWS error code)
	Denials       *prometheus.CounterVec // action
	StorageErrors prometheus.Counter
	STSIssued     *prometheus.CounterVec // action, role, provider
	JWKSFetches   *prometheus.CounterVec // provider, result
}

// New creates and registers the collectors.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cairn_requests_total", Help: "Requests by operation and HTTP status."}, []string{"op", "code"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "cairn_request_duration_seconds", Help: "Request latency by operation.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}}, []string{"op"}),
		BytesIn:       prometheus.NewCounter(prometheus.CounterOpts{Name: "cairn_bytes_received_total", Help: "Request body bytes read."}),
		BytesOut:      prometheus.NewCounter(prometheus.CounterOpts{Name: "cairn_bytes_sent_total", Help: "Response body bytes written."}),
		InFlight:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "cairn_requests_in_flight", Help: "Requests being served."}),
		Rejected:      prometheus.NewCounter(prometheus.CounterOpts{Name: "cairn_requests_rejected_total", Help: "Requests refused with 503 SlowDown over the concurrency limit."}),
		AuthFailures:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cairn_auth_failures_total", Help: "Authentication failures by AWS error code."}, []string{"reason"}),
		Denials:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cairn_policy_denials_total", Help: "Requests denied by policy, by IAM action."}, []string{"action"}),
		StorageErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "cairn_storage_errors_total", Help: "Requests that failed with a server-side (5xx) error."}),
		STSIssued:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cairn_sts_credentials_issued_total", Help: "Temporary credentials issued."}, []string{"action", "role", "provider"}),
		JWKSFetches:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cairn_jwks_fetches_total", Help: "JWKS fetches by provider and result."}, []string{"provider", "result"}),
	}
	m.Registry.MustRegister(m.Requests, m.Duration, m.BytesIn, m.BytesOut, m.InFlight, m.Rejected, m.AuthFailures, m.Denials,
		m.StorageErrors, m.STSIssued, m.JWKSFetches, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}
