package testkit_test

import (
	"testing"

	"github.com/sluicehq/sluice/internal/testkit"
)

func TestMain(m *testing.M) { testkit.RunMain(m) }
