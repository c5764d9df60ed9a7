/*
 * Random bytes for the firmware's identity keys and protocol nonces.
 *
 * ESP32: esp_fill_random() reads the hardware RNG; it is a true RNG while the Wi-Fi or Bluetooth
 * radio is on (ESP-IDF "Random Number Generation"), so main.ts starts the radio before the first
 * key is made. Desktop simulator: getentropy(), 256 bytes per call (its limit).
 */
#include "xsmc.h"
#include "xsHost.h"

#if ESP32
	#include "esp_random.h"
#else
	#include <sys/random.h>
#endif

void xs_board_fill_random(xsMachine *the)
{
	void *data;
	xsUnsignedValue count;

	xsmcGetBufferWritable(xsArg(0), &data, &count);
#if ESP32
	esp_fill_random(data, count);
#else
	for (xsUnsignedValue done = 0; done < count; ) {
		xsUnsignedValue chunk = (count - done) > 256 ? 256 : (count - done);
		if (getentropy((uint8_t *)data + done, chunk) != 0)
			xsUnknownError("getentropy failed");
		done += chunk;
	}
#endif
}
