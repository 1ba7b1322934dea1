package s3api_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cairn-io/cairn/internal/testserver"
)

// metricValue reads one sample from the Prometheus text format.
func metricValue(t *testing.T, text, name string) float64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` ([0-9.e+-]+)$`)
	m := re.FindStringSubmatch(text)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

func TestMetricsAndHealth(t *testing.T) {
	s := testserver.Start(t, testserver.Options{NoSync: true, Config: `
users:
  - name: nobody
    access_key: AKIANOBODY0000000000
    secret_key: nobody-secret-0000000
`})
	c := s.Client(true)
	newBucket(t, c, "met")
	for i := 0; i < 5; i++ {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("met"), Key: aws.String(fmt.Sprint("k", i)), Body: strings.NewReader("12345")})
		must(t, err)
	}
	for i := 0; i < 3; i++ {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("met"), Key: aws.String("k0")})
		must(t, err)
		readAll(t, out.Body)
	}
	_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("met"), Key: aws.String("missing")})
	wantErr(t, err, "NoSuchKey", 404)
	_, err = s.ClientWith(testserver.RootAccessKey, "wrong-secret", true).ListBuckets(ctx, &s3.ListBucketsInput{})
	wantErr(t, err, "SignatureDoesNotMatch", 403)
	_, err = s.ClientWith("AKIANOBODY0000000000", "nobody-secret-0000000", true).ListBuckets(ctx, &s3.ListBucketsInput{})
	wantErr(t, err, "AccessDenied", 403)

	// Client-chosen action names never become metric labels.
	for _, v := range []string{"2011-06-15", "2010-05-08"} {
		r, err := http.Post(s.URL+"/", "application/x-www-form-urlencoded", strings.NewReader("Action=Evil"+v+"&Version="+v))
		must(t, err)
		r.Body.Close()
	}
	resp, err := http.Get(s.URL + "/-/metrics")
	must(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(b)
	want := map[string]float64{
		`cairn_requests_total{code="200",op="CreateBucket"}`:        1,
		`cairn_requests_total{code="200",op="PutObject"}`:           5,
		`cairn_requests_total{code="200",op="GetObject"}`:           3,
		`cairn_requests_total{code="404",op="GetObject"}`:           1,
		`cairn_requests_total{code="403",op="ListBuckets"}`:         2,
		`cairn_auth_failures_total{reason="SignatureDoesNotMatch"}`: 1,
		`cairn_policy_denials_total{action="s3:ListAllMyBuckets"}`:  1,
		`cairn_bytes_received_total`:                                25 + 80, // 5 PUTs of 5 bytes, two 40-byte forms
		`cairn_request_duration_seconds_count{op="PutObject"}`:      5,
		`cairn_requests_in_flight`:                                  0,
	}
	for name, v := range want {
		if got := metricValue(t, text, name); got != v {
			t.Errorf("%s = %v, want %v", name, got, v)
		}
	}
	if strings.Contains(text, "Evil") {
		t.Error("a client-chosen action name became a metric label")
	}
	if got := metricValue(t, text, "cairn_bytes_sent_total"); got < 15 {
		t.Errorf("bytes sent %v", got)
	}
	for path, want := range map[string]string{"/-/healthz": "ok\n", "/-/readyz": "ready\n"} {
		resp, err := http.Get(s.URL + path)
		must(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != want {
			t.Fatalf("%s: %d %q", path, resp.StatusCode, b)
		}
	}
	// The admin paths are not reachable as objects of a virtual-hosted bucket.
	_, err = s.Client(false).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("met"), Key: aws.String("-/healthz")})
	wantErr(t, err, "NoSuchKey", 404)
}

func TestConcurrencyCap(t *testing.T) {
	s := testserver.Start(t, testserver.Options{NoSync: true, MaxInFlight: 1})
	c := s.Client(true)
	newBucket(t, c, "cap")
	// Hold the only slot with an upload whose body arrives slowly.
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		if st := slowPut(t, s, "/cap/slow", pr, 10); st != 200 {
			done <- fmt.Errorf("slow upload: %d", st)
			return
		}
		done <- nil
	}()
	pw.Write([]byte("12345"))
	time.Sleep(200 * time.Millisecond)
	r := do(t, s, "GET", "/cap?list-type=2", nil, nil, true, nil)
	wantRaw(t, r, 503, "SlowDown")
	pw.Write([]byte("67890"))
	pw.Close()
	must(t, <-done)
	r = do(t, s, "GET", "/cap?list-type=2", nil, nil, true, nil)
	if r.Status != 200 {
		t.Fatalf("after the slot freed: %d %s", r.Status, r.Body)
	}
}

// A client that stops sending its body is cut off; a slow but steady one
// completes; other clients keep working meanwhile.
func TestSlowClients(t *testing.T) {
	s := testserver.Start(t, testserver.Options{NoSync: true, BodyIdleTimeout: 500 * time.Millisecond, ReadHeaderTimeout: 500 * time.Millisecond})
	c := s.Client(true)
	newBucket(t, c, "slow")
	// Slow loris on headers: the connection is closed after the header timeout.
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", s.Addr)
			if err != nil {
				return
			}
			defer conn.Close()
			fmt.Fprintf(conn, "GET /slow HTTP/1.1\r\nHost: x\r\n")
			start := time.Now()
			for time.Since(start) < 3*time.Second {
				if _, err := fmt.Fprintf(conn, "X-Slow-%d: y\r\n", time.Now().UnixNano()); err != nil {
					return // cut off
				}
				conn.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
				if _, err := conn.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
					return // the server closed it
				}
			}
			t.Errorf("slow-loris connection still open after 3 s")
		}()
	}
	// Meanwhile normal requests work.
	for i := 0; i < 10; i++ {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("slow"), Key: aws.String(fmt.Sprint("ok", i)), Body: strings.NewReader("fine")})
		must(t, err)
	}
	wg.Wait()
	// A body that stalls: cut off, nothing stored.
	pr, pw := io.Pipe()
	go func() { pw.Write([]byte("partial")); time.Sleep(2 * time.Second); pw.Close() }()
	if st := slowPut(t, s, "/slow/stalled", pr, 100); st == 200 {
		t.Fatal("stalled upload succeeded")
	}
	_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("slow"), Key: aws.String("stalled")})
	wantErr(t, err, "NotFound", 404)
	// A slow, steady body (a piece every 200 ms for 2 s) completes.
	pr, pw = io.Pipe()
	go func() {
		for i := 0; i < 10; i++ {
			pw.Write(bytes.Repeat([]byte{'s'}, 100))
			time.Sleep(200 * time.Millisecond)
		}
		pw.Close()
	}()
	if st := slowPut(t, s, "/slow/steady", pr, 1000); st != 200 {
		t.Fatalf("steady upload: %d", st)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("slow"), Key: aws.String("steady")})
	must(t, err)
	if *head.ContentLength != 1000 {
		t.Fatalf("steady upload stored %d bytes", *head.ContentLength)
	}
	_ = bufio.NewReader
}

// slowPut sends a signed UNSIGNED-PAYLOAD PUT whose body comes from r.
func slowPut(t *testing.T, s *testserver.Server, path string, r io.Reader, size int64) int {
	req, _ := http.NewRequest("PUT", s.URL+path, r)
	req.ContentLength = size
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	must(t, signer.SignHTTP(ctx, aws.Credentials{AccessKeyID: testserver.RootAccessKey, SecretAccessKey: testserver.RootSecretKey}, req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now()))
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		return -1 // the server closed the connection
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
