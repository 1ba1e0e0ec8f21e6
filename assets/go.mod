module gatehouse/assets

go 1.26.8
