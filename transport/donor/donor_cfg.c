/* donor_cfg.c: the donor configuration every part of the donor reads (set by clonefsd_main.c, or by
 * clonefs clone for a CLONE LOCAL, which runs the reflink method in-process). */
#include "transport/donor/donor.h"

struct donor_config donor_cfg;
