module wdb

go 1.26
