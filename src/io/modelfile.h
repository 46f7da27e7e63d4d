/* modelfile.h — network definitions as text ("model files", in the spirit of Darknet's .cfg):
 * build a network from a file without recompiling, and write any graph's model (every zoo model)
 * back out so that it reads back to the same network.  The format is specified in
 * docs/model-format.md.  Its declarations are in deepc.h (section "model files").
 * Not here: losses, optimizer settings, training options, parameter values (those are in
 * checkpoints, which load into a network read from its model file by parameter name). */
#ifndef DC_IO_MODELFILE_H
#define DC_IO_MODELFILE_H

#include "deepc.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
