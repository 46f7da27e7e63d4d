# deepc — build file.  `make` builds the library (static + shared), the `deepc` tool, the tests
# and the benchmarks into build/.  `make test` runs the tests, `make asan` builds and runs them under
# AddressSanitizer + UBSan in build-asan/, `make install PREFIX=/usr/local` installs.
#
# Optional libraries are detected and reported; none is required:
#   zlib      gzip-compressed IDX files (plain IDX files always work)
#   libpng    PNG images for `deepc predict` (PGM always works)
#   OpenBLAS  only as a comparison point in bench/ (deepc's own GEMM is used for training)

CC      ?= cc
PREFIX  ?= /usr/local
BUILD   ?= build
OPT     ?= -O3
SAN     ?=
# AVX2/FMA for the compiler's vectorised loops when the build machine has them; `make ARCH=` builds
# a portable library (GEMM still picks its AVX2 kernel at run time where the CPU has it).
ARCH    ?= $(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo 2>/dev/null && echo -mavx2 -mfma)
# -fno-math-errno lets sqrtf/expf loops vectorise; no -ffast-math: results stay IEEE.
CFLAGS_BASE := -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter \
               -fno-math-errno -fPIC -pthread -Iinclude -Isrc $(OPT) $(ARCH) $(SAN)
LDLIBS_BASE := -lm -pthread

probe = $(shell echo 'int main(void){return 0;}' | \
          $(CC) -x c -include $(1) - $(2) -o /dev/null >/dev/null 2>&1 && echo 1)

HAVE_ZLIB     := $(call probe,zlib.h,-lz)
HAVE_OPENBLAS := $(call probe,cblas.h,-lopenblas)
HAVE_PNG      := $(call probe,png.h,-lpng)

ifeq ($(HAVE_ZLIB),1)
  CFLAGS_BASE += -DDC_HAVE_ZLIB=1
  LDLIBS_BASE += -lz
endif
ifeq ($(HAVE_PNG),1)
  CFLAGS_BASE += -DDC_HAVE_PNG=1
  LDLIBS_BASE += -lpng
endif
BENCH_LIBS :=
ifeq ($(HAVE_OPENBLAS),1)
  BENCH_CFLAGS := -DDC_HAVE_OPENBLAS=1
  BENCH_LIBS   := -lopenblas
endif

LIB_SRC   := $(sort $(wildcard src/core/*.c src/kernels/*.c src/graph/*.c src/nn/*.c src/optim/*.c \
                              src/data/*.c src/models/*.c src/detect/*.c src/io/*.c src/train/*.c \
                              src/viz/*.c src/lab/*.c))
CLI_SRC   := $(sort $(wildcard src/cli/*.c))
TEST_SRC  := $(sort $(wildcard tests/*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ   := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ  := $(TEST_SRC:%.c=$(BUILD)/%.o)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all lib test asan bench install clean config
all: config lib $(BUILD)/deepc $(BUILD)/run_tests $(BENCH_BIN)

config:
	@echo "deepc: CC=$(CC) OPT=$(OPT) ARCH=$(ARCH) zlib=$(if $(HAVE_ZLIB),yes,no) libpng=$(if $(HAVE_PNG),yes,no) openblas(bench only)=$(if $(HAVE_OPENBLAS),yes,no)"

lib: $(BUILD)/libdeepc.a $(BUILD)/libdeepc.so

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libdeepc.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libdeepc.so: $(LIB_OBJ)
	$(CC) -shared $(SAN) -o $@ $^ $(LDLIBS_BASE) $(LDFLAGS)

$(BUILD)/deepc: $(CLI_OBJ) $(BUILD)/libdeepc.a
	$(CC) $(SAN) -o $@ $(CLI_OBJ) $(BUILD)/libdeepc.a $(LDLIBS_BASE) $(LDFLAGS)

$(BUILD)/run_tests: $(TEST_OBJ) $(BUILD)/libdeepc.a
	$(CC) $(SAN) -o $@ $(TEST_OBJ) $(BUILD)/libdeepc.a $(LDLIBS_BASE) $(LDFLAGS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libdeepc.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(BENCH_CFLAGS) $(CFLAGS) -o $@ $< $(BUILD)/libdeepc.a $(BENCH_LIBS) $(LDLIBS_BASE) $(LDFLAGS)

bench: $(BENCH_BIN)

test: all
	DEEPC=./$(BUILD)/deepc bash tests/report_browser.sh
	./$(BUILD)/run_tests

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" all
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ./build-asan/run_tests

install: lib $(BUILD)/deepc
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/deepc.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/libdeepc.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libdeepc.so $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/deepc $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|0.1.0|' \
	    -e 's|@LIBS@|$(LDLIBS_BASE)|' deepc.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/deepc.pc

clean:
	rm -rf build build-asan build-clang build-O2

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)
