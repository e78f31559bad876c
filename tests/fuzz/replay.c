/* replay.c: the fuzz regression driver: feeds every file of the given corpus directories (or files)
 * to the target's LLVMFuzzerTestOneInput, so every input a fuzzer ever kept stays a test. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { REPLAY_MAX_INPUT = 1 << 20 };

static int replay_file(const char *path, uint8_t *buf)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: cannot read %s\n", path);
		return -1;
	}
	size_t n = fread(buf, 1, REPLAY_MAX_INPUT, f);
	fclose(f);
	/* A copy of exactly n bytes: ASan catches any read past the input's end. */
	uint8_t *in = malloc(n ? n : 1);
	if (!in)
		return -1;
	memcpy(in, buf, n);
	LLVMFuzzerTestOneInput(in, n);
	free(in);
	return 0;
}

int main(int argc, char **argv)
{
	uint8_t *buf = malloc(REPLAY_MAX_INPUT);
	int count = 0, failed = 0;
	for (int i = 1; i < argc && buf; i++) {
		struct stat st;
		if (stat(argv[i], &st)) {
			fprintf(stderr, "replay: no such corpus %s\n", argv[i]);
			failed++;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			failed += replay_file(argv[i], buf) ? 1 : 0;
			count++;
			continue;
		}
		DIR *d = opendir(argv[i]);
		struct dirent *de;
		while (d && (de = readdir(d))) {
			char path[4096];
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
			failed += replay_file(path, buf) ? 1 : 0;
			count++;
		}
		if (d)
			closedir(d);
	}
	free(buf);
	printf("%d passed, %d failed\n", count - failed, failed);
	return failed || count == 0 ? 1 : 0;
}
