/*
 * Without libFuzzer: feed every file of the given directories to the fuzz
 * entry point once, so `make test` replays the corpus under ASan+UBSan.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../src/lib/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
main(int argc, char **argv)
{
	size_t count = 0;

	for (int i = 1; i < argc; i++) {
		DIR *d = opendir(argv[i]);
		struct dirent *de;

		if (!d) {
			perror(argv[i]);
			return 1;
		}
		while ((de = readdir(d))) {
			char path[4096];
			char *buf = NULL;
			size_t len = 0;
			struct werr e = { 0 };

			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
			if (read_file(path, 8u << 20, &buf, &len, &e) < 0)
				continue;
			LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
			free(buf);
			count++;
		}
		closedir(d);
	}
	printf("replayed %zu inputs\n", count);
	return count ? 0 : 1;
}
