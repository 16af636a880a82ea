/* fuzz_mesh.c - what decides a mesh's membership, on arbitrary bytes:
 * the first byte picks
 *   0: hostaddr_classify: an address's canonical form is one, and
 *      classifies as such;
 *   1: the agent's reading of a group's panorama (mesh_members_of, the
 *      rest unpacked as a Panorama message): every member it keeps is a
 *      host written one way, within the bound, without duplicates;
 *   2: the node's gate (meshgate_admit, -mesh-open), names and client
 *      addresses from the rest: it never crashes and never admits a name
 *      that is no host. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/mesh.h"
#include "pano/common/hostaddr.h"
#include "pano/node/meshgate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *text(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s) {
		memcpy(s, data, size);
		s[size] = '\0';
	}
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0] % 3;
	data++;
	size--;
	if (mode == 0) {
		char *s = text(data, size), canon[96];
		if (!s)
			return 0;
		hostaddr_kind k = hostaddr_classify(s, canon, sizeof(canon));
		if (k == HOSTADDR_ADDRESS && strcmp(canon, s) != 0)
			__builtin_trap();
		if (k == HOSTADDR_ALIAS && hostaddr_classify(canon, NULL, 0) != HOSTADDR_ADDRESS)
			__builtin_trap();
		char why[200];
		if ((k == HOSTADDR_BAD || k == HOSTADDR_INVALID) != (hostaddr_problem(s, why, sizeof(why)) != NULL))
			__builtin_trap();
		free(s);
		return 0;
	}
	if (mode == 1) {
		Panorama__Panorama *p = panorama__panorama__unpack(NULL, size, data);
		if (!p)
			return 0;
		char **names = NULL;
		size_t n = 0;
		if (mesh_members_of(p, "10.0.0.1", 1795428000, 90, &names, &n) == 0) {
			if (n > MESH_MEMBERS_MAX)
				__builtin_trap();
			for (size_t i = 0; i < n; i++) {
				hostaddr_kind k = hostaddr_classify(names[i], NULL, 0);
				if (k != HOSTADDR_ADDRESS && k != HOSTADDR_NAME)
					__builtin_trap();
				free(names[i]);
			}
			free(names);
		}
		panorama__panorama__free_unpacked(p, NULL);
		return 0;
	}
	static meshgate *gate;
	if (!gate) {
		char *peers[] = { "127.0.0.9:6688" };
		meshgate_config c = { false, true, peers, 1 };
		gate = meshgate_new(&c);
	}
	/* NAME\nFROM\nSUBJECT... one report a line triple */
	char *s = text(data, size), *save = NULL;
	if (!s)
		return 0;
	for (char *observer = strtok_r(s, "\n", &save); observer;) {
		char *from = strtok_r(NULL, "\n", &save), *subject = from ? strtok_r(NULL, "\n", &save) : NULL;
		if (!subject)
			break;
		char err[512];
		meshgate_verdict v = meshgate_admit(gate, subject, observer, from, observer[0] & 1, 1795428000, err,
		                                    sizeof(err));
		hostaddr_kind k = hostaddr_classify(observer, NULL, 0);
		if (v == MESHGATE_ADMIT && k != HOSTADDR_ADDRESS && k != HOSTADDR_NAME)
			__builtin_trap();
		observer = strtok_r(NULL, "\n", &save);
	}
	free(s);
	return 0;
}
