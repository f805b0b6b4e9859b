package cost

// MeterLabel names a meter as the reports do: "Workers requests", "R2
// Class A operations".
func MeterLabel(m Meter) string { return meterLabel(m) }
