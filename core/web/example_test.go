package web_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/herald-ims/herald/core/content"
	"github.com/herald-ims/herald/core/web"
)

// A call controller publishes the caller card and puts the URL in the INVITE it sends the callee.
func ExampleServer_Publish() {
	s, err := web.New(web.Options{Listen: "127.0.0.1:0", BaseURL: "https://ps.home1.net/"})
	if err != nil {
		panic(err)
	}
	if err := s.Start(context.Background()); err != nil {
		panic(err)
	}
	defer s.Stop(context.Background()) //nolint:errcheck // example

	page, err := content.NewPage("card.html", []byte("<!DOCTYPE html><html><title>Alice</title></html>"))
	if err != nil {
		panic(err)
	}
	url, token, err := s.Publish(page, "cb03a0s09a2sdfglkj490333")
	if err != nil {
		panic(err)
	}
	callInfo := "Call-Info: <" + url + ">;purpose=info"
	fmt.Println(strings.Replace(callInfo, token, "<token>", 1))
	fmt.Println(len(token), "base64url characters")
	s.RevokeCall("cb03a0s09a2sdfglkj490333") // at call teardown
	// Output:
	// Call-Info: <https://ps.home1.net/h/<token>.html>;purpose=info
	// 22 base64url characters
}
