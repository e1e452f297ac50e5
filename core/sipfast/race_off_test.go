//go:build !race

package sipfast

const raceEnabled = false
