module gatehouse/shared

go 1.26.8
