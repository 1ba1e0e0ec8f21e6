module gatehouse/migrations

go 1.26.8
