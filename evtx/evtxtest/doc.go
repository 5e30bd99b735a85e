// Package evtxtest writes real .evt and .evtx files from evtx.Event values,
// so tests can build logs that contain the events they need.
package evtxtest
