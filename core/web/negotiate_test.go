package web

import "testing"

func TestParseQValue(t *testing.T) {
	tests := map[string]struct {
		in   string
		want int
		ok   bool
	}{
		"zero":        {"0", 0, true},
		"one":         {"1", 1000, true},
		"one dot":     {"1.", 1000, true},
		"one.000":     {"1.000", 1000, true},
		"half":        {"0.5", 500, true},
		"three":       {"0.123", 123, true},
		"zero dot":    {"0.", 0, true},
		"0.001":       {"0.001", 1, true},
		"too precise": {"0.1234", 0, false},
		"above one":   {"1.001", 0, false},
		"two":         {"2", 0, false},
		"empty":       {"", 0, false},
		"leading dot": {".5", 0, false},
		"letters":     {"0.a", 0, false},
		"no dot":      {"05", 0, false},
		"negative":    {"-0", 0, false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			q, ok := parseQValue(tt.in)
			if q != tt.want || ok != tt.ok {
				t.Fatalf("parseQValue(%q) = %d, %v; want %d, %v", tt.in, q, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestChoose(t *testing.T) {
	small := [numCodings]int{codingIdentity: 1000, codingGzip: 300, codingZstd: 250}
	zstdBigger := [numCodings]int{codingIdentity: 1000, codingGzip: 300, codingZstd: 320}
	tiny := [numCodings]int{codingIdentity: 20, codingGzip: 40, codingZstd: 29}
	noZstd := [numCodings]int{codingIdentity: 1000, codingGzip: 300}
	tests := map[string]struct {
		accept []string
		sizes  [numCodings]int
		want   coding
		ok     bool
	}{
		"browser":             {[]string{"gzip, deflate, br, zstd"}, small, codingZstd, true},
		"zstd slightly big":   {[]string{"gzip, zstd"}, zstdBigger, codingZstd, true},
		"tiny page identity":  {[]string{"gzip, zstd"}, tiny, codingIdentity, true},
		"tiny page gzip only": {[]string{"gzip"}, tiny, codingIdentity, true},
		"tiny page no id":     {[]string{"gzip, zstd, identity;q=0"}, tiny, codingZstd, true},
		"no zstd variant":     {[]string{"zstd, gzip;q=0.1"}, noZstd, codingGzip, true},
		"absent header":       {nil, small, codingIdentity, true},
		"q ordering":          {[]string{"zstd;q=0.1, gzip;q=0.2"}, small, codingGzip, true},
		"star low identity":   {[]string{"*;q=0.5, identity;q=0.9"}, small, codingIdentity, true},
		"star excludes id":    {[]string{"*;q=0.5"}, small, codingZstd, true},
		"all excluded":        {[]string{"*;q=0"}, small, codingIdentity, false},
		"identity excluded":   {[]string{"identity;q=0, zstd;q=0"}, noZstd, codingIdentity, false},
		"params ignored":      {[]string{"gzip;level=9;q=0.5, zstd;q=0"}, small, codingGzip, true},
		"spaces":              {[]string{" zstd ; q = 0 ,\tgzip "}, small, codingGzip, true},
		"malformed q dropped": {[]string{"gzip;q=x"}, small, codingIdentity, true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := parseAcceptEncoding(tt.accept).choose(tt.sizes)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("choose = %s, %v; want %s, %v", codingNames[got], ok, codingNames[tt.want], tt.ok)
			}
		})
	}
}

func TestETagMatch(t *testing.T) {
	const tag = `"abc-gzip"`
	tests := map[string]struct {
		values []string
		want   bool
	}{
		"exact":         {[]string{`"abc-gzip"`}, true},
		"weak":          {[]string{`W/"abc-gzip"`}, true},
		"list":          {[]string{`"x", W/"y" ,"abc-gzip"`}, true},
		"second line":   {[]string{`"x"`, `"abc-gzip"`}, true},
		"star":          {[]string{"*"}, true},
		"prefix only":   {[]string{`"abc"`}, false},
		"unquoted":      {[]string{`abc-gzip`}, false},
		"unterminated":  {[]string{`"abc-gzip`}, false},
		"after garbage": {[]string{`x, "abc-gzip"`}, false},
		"empty":         {[]string{""}, false},
		"none":          {},
		"lower w":       {[]string{`w/"abc-gzip"`}, false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := etagMatch(tt.values, tag); got != tt.want {
				t.Fatalf("etagMatch(%q) = %v, want %v", tt.values, got, tt.want)
			}
		})
	}
}
