module minifor.ge/forge

go 1.19
