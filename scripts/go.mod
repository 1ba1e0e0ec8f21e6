module gatehouse/scripts

go 1.26.8
