package main

import "testing"

func TestScaffoldNames(t *testing.T) {
	for _, tc := range []struct{ pkg, worker, model string }{
		{"camera", "CameraWorker", "CameraModel"},
		{"cameraworker", "CameraWorker", "CameraModel"},
		{"worker", "Worker", "Model"},
	} {
		if got := names(tc.pkg); got.Worker != tc.worker || got.Model != tc.model {
			t.Errorf("names(%q) = %s, %s; want %s, %s", tc.pkg, got.Worker, got.Model, tc.worker, tc.model)
		}
	}
}
