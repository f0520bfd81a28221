// Package doclinks holds the test that keeps the repository's protocol citations inside the
// repository: every "docs/<file>.md <section>" that a .go or .md file cites must name a file
// under docs/ and a section heading of that file, every section of the protocol reference
// must name its sources, and no file may point at protocol notes kept outside the repository.
// See docs/README.md for the citation form.
package doclinks
