//go:build !race

package callsip

const raceEnabled = false
