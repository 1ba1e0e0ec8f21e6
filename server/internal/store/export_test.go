package store

import "gorm.io/gorm"

// GormForTest exposes the GORM handle to this package's external tests.
func GormForTest(db *DB) *gorm.DB { return db.gorm }
