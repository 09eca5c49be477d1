# Writes DIR/index.txt: one line per file of DIR, "<sha256> <name>", then the
# whole set's hash on a line "bundle <sha256>". The Java loader unpacks the
# files into a folder named by that hash, so JVMs that start together on one
# node share one copy and a new build never reuses an old one.
file(GLOB files RELATIVE "${DIR}" "${DIR}/*")
list(REMOVE_ITEM files index.txt)
list(SORT files)
set(lines "")
foreach(f IN LISTS files)
  file(SHA256 "${DIR}/${f}" h)
  string(APPEND lines "${h} ${f}\n")
endforeach()
string(SHA256 bundle "${lines}")
file(WRITE "${DIR}/index.txt" "${lines}bundle ${bundle}\n")
