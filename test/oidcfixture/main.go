// Command oidcfixture runs the test OpenID Connect issuer (internal/oidctest)
// on loopback for the end-to-end scripts: discovery and JWKS over HTTPS,
// and a plain-HTTP mint endpoint, GET /mint?sub=S&aud=A[&groups=G][&extra=JSON], that
// returns a signed RS256 token. It prints one JSON line with the issuer
// URL, the CA file and the mint URL, then serves until killed.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strings"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/cairn-io/cairn/internal/oidctest"
)

func main() {
	dir := flag.String("dir", os.TempDir(), "where to write the CA file")
	flag.Parse()
	iss := oidctest.New(*dir)
	key := iss.AddKey("e2e-rsa", jose.RS256)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	mint := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		claims := iss.Claims(q.Get("sub"), q.Get("aud"))
		if g := q.Get("groups"); g != "" {
			claims["groups"] = strings.Split(g, ",")
		}
		if x := q.Get("extra"); x != "" { // extra claims, a JSON object
			var extra map[string]any
			if err := json.Unmarshal([]byte(x), &extra); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			for k, v := range extra {
				claims[k] = v
			}
		}
		fmt.Fprint(w, oidctest.Sign(key, claims))
	})
	info, _ := json.Marshal(map[string]string{"issuer": iss.URL, "ca_file": iss.CAFile, "mint": "http://" + ln.Addr().String() + "/mint"})
	fmt.Println(string(info))
	log.Fatal(http.Serve(ln, mint))
}
