// zlib's gzip file reader, for the gzipped idx files of Fashion-MNIST (Debian's dataset-fashion-mnist).
#include <zlib.h>
