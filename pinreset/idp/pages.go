package idp

import (
	"html/template"
)

// Pages of the browser sign-in flow. html/template escapes every value by context; the
// appru form action is passed as template.URL only after validateAppru accepted its scheme
// (otherwise html/template would replace an ms-app: URL with "#ZgotmplZ").

type signInPage struct {
	Appru     string
	LoginHint string
	Nonce     string
	Error     string
	AskOTP    bool
}

type refusedPage struct {
	Appru string
}

type postBackPage struct {
	Appru       template.URL
	Token       string
	ScriptNonce string
}

var signInTmpl = template.Must(template.New("signin").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Sign in</title>
<style>body{font-family:sans-serif;max-width:24em;margin:3em auto}label,input{display:block;width:100%;margin:.3em 0}.error{color:#a00}</style>
</head><body>
<h1>Sign in</h1>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="/idp/enroll" autocomplete="off">
<input type="hidden" name="appru" value="{{.Appru}}">
<input type="hidden" name="nonce" value="{{.Nonce}}">
<label for="upn">User name</label>
<input id="upn" name="upn" type="email" value="{{.LoginHint}}" required{{if not .LoginHint}} autofocus{{end}}>
<label for="password">Password</label>
<input id="password" name="password" type="password" required{{if and .LoginHint (not .AskOTP)}} autofocus{{end}}>
<label for="otp">Authenticator code{{if not .AskOTP}} (if enrolled){{end}}</label>
<input id="otp" name="otp" inputmode="numeric" pattern="[0-9]{6}" maxlength="6"{{if .AskOTP}} required autofocus{{end}}>
<input type="submit" value="Sign in">
</form>
</body></html>
`))

// refusedTmpl says why the sign-in page will not run for an appru.
var refusedTmpl = template.Must(template.New("refused").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Sign-in refused</title>
<style>body{font-family:sans-serif;max-width:32em;margin:3em auto}code{word-break:break-all}</style>
</head><body>
<h1>This sign-in cannot continue</h1>
<p role="alert">The page asked to send your sign-in to <code>{{.Appru}}</code>, which is not Windows
enrollment (<code>ms-app://</code>) and not an address your organisation's administrator allowed.
Your sign-in was not sent anywhere. If you did not start this from Windows Settings, close this page.</p>
</body></html>
`))

// postBackTmpl is the MS-MDE2 web-auth answer (docs/protocol.md A.5 step 2): a form that posts
// the token as the single field wresult to appru.
var postBackTmpl = template.Must(template.New("postback").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Signing in</title></head><body>
<form method="post" action="{{.Appru}}">
<input type="hidden" name="wresult" value="{{.Token}}">
<noscript><input type="submit" value="Continue"></noscript>
</form>
<script nonce="{{.ScriptNonce}}">document.forms[0].submit();</script>
</body></html>
`))
