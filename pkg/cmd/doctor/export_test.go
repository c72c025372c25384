package doctor

// RunDoctor is runDoctor, for the tests that run it with a fixed clock.
var RunDoctor = runDoctor

// PointsAt is pointsAt, for its table test.
var PointsAt = pointsAt
