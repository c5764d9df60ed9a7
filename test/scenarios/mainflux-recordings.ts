// The recordings of the real Mainflux bootstrap service (test/fixtures/mainflux-bootstrap/
// recorded.json, copied unchanged from the team's shared fixtures; README beside it), as a module
// so the scenarios can use them inside XS too. test/node/bootstrap-playback.test.ts checks that this
// module and the JSON file hold the same data. Generated: do not edit by hand.

export interface RecordedExchange {
  readonly case: string;
  readonly path: string;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly authorizationSent?: string;
  readonly bodyText?: string;
  readonly bodyHex?: string;
  readonly decrypted?: string;
}

export interface RecordedConfig {
  readonly file: string;
  readonly service: string;
  readonly commit: string;
  readonly deviceConfig: {
    readonly generation: "raw" | "thing";
    readonly externalId: string;
    readonly externalKey: string;
    readonly secure?: { readonly key: string; readonly keyEncoding?: "ascii" };
  };
  readonly exchanges: readonly RecordedExchange[];
}

export const RECORDED: readonly RecordedConfig[] = [
 {
  "file": "012-raw-plain-ca",
  "service": "Mainflux 0.12.1",
  "commit": "9ce31b65a639c88acd3b5095d0bf500130f82c67",
  "deviceConfig": {
   "generation": "raw",
   "externalId": "02:00:00:00:02:12",
   "externalKey": "ext-key-012-ca"
  },
  "exchanges": [
   {
    "case": "ok",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A02%3A12",
    "status": 200,
    "headers": {
     "content-type": "application/json",
     "content-length": "1562",
     "connection": "close"
    },
    "authorizationSent": "ext-key-012-ca",
    "bodyText": "{\"mainflux_id\":\"70469796-a8c5-4e56-a2e9-51cd421995f5\",\"mainflux_key\":\"83a02e8c-8131-4410-89e1-9e674a697b79\",\"mainflux_channels\":[{\"id\":\"9730f0af-f8a5-4509-8e3a-6ed5d0b1c1c0\",\"name\":\"data\",\"metadata\":{\"type\":\"data\"}},{\"id\":\"c9ab9bea-142c-470a-b5d0-f7b93bb00d88\",\"name\":\"control\",\"metadata\":{\"type\":\"control\"}}],\"content\":\"{\\\"broker_url\\\": \\\"mqtts://broker.example:8883\\\", \\\"note\\\": \\\"from real mainflux\\\"}\",\"ca_cert\":\"-----BEGIN CERTIFICATE-----\\nMIIDETCCAfmgAwIBAgIUbn4UakGjAIDJ+qbrJwGuX+Cihl8wDQYJKoZIhvcNAQEL\\nBQAwGDEWMBQGA1UEAwwNbWYtaW50ZXJvcC1jYTAeFw0yNjEyMDQyMzIxNTBaFw0y\\nNzAxMDMyMzIxNTBaMBgxFjAUBgNVBAMMDW1mLWludGVyb3AtY2EwggEiMA0GCSqG\\nSIb3DQEBAQUAA4IBDwAwggEKAoIBAQCnnstPKEt5Q4zH7+NnvHx23x+89N3OcODm\\nZLWWcIlcuxFxudspmIaBplyD0TvjgW0NA/gzwkZyHlKb5nKPfq4+zWlGy8mJM493\\nbhgtIbgoCkWCYr1lC8z9nzOo3xm5slhI75R8baL+R9+cmTEsO9ulSE5X/iEcW5f+\\nw6RqNS2ivVcCDmoVbeKpCgMSLWKhOQXARrYHR4TtYDJ7b0+yOlopN2DUVtWqPwiG\\ntGhhgR/hrGZWqwjszk4X3aZKWdNZ+kR1uuRaYvv4mcXgEpXIZx91BS0imvCLutwF\\nxEmQY7YZyiFOZr0waPaa/0izCGzZztKW1ewz5BtmrYfEdAenkGbtAgMBAAGjUzBR\\nMB0GA1UdDgQWBBRGj7FerFGLmsSgMaL8DWl3dUqDZTAfBgNVHSMEGDAWgBRGj7Fe\\nrFGLmsSgMaL8DWl3dUqDZTAPBgNVHRMBAf8EBTADAQH/MA0GCSqGSIb3DQEBCwUA\\nA4IBAQAeGuEjRl2T9uVZczELLnUT59sGbTAkUe+TFEREKtVLCWb4k8qJxS80M9t5\\nQnu8Xsft6En//rAYc4mvQjc4snQ22SSDXeM+cyng+qjjuO7lwbYLofXJ4qmfamII\\nVQ5Rf2cEo+suyUD5a30lVYfRb834D26M8Pn1evZkyXSnYX0Vf7tfQFvuHlI2nAEf\\nB5EfIjZMdjMJbD0udCw5FmSpaioH+UxWmAaqhWLTyu582614Cr9vy1YibD5IlLg3\\nisDOrhOro5rlYMQRAKs1nxn7L/zhWs5ypl2v7qOG3FU04xwQg1MdXoJC7GDFcEnE\\n/zaE8yheIbXaLgcjQWkGdMkvpg5D\\n-----END CERTIFICATE-----\\n\"}\n"
   },
   {
    "case": "unknown-id",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3AFF%3AFF",
    "status": 404,
    "headers": {
     "content-type": "application/json",
     "content-length": "51",
     "connection": "close"
    },
    "authorizationSent": "ext-key-012-ca",
    "bodyText": "{\"error\":\"failed to read bootstrap configuration\"}\n"
   },
   {
    "case": "wrong-key",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A02%3A12",
    "status": 404,
    "headers": {
     "content-type": "application/json",
     "content-length": "73",
     "connection": "close"
    },
    "authorizationSent": "a-wrong-key",
    "bodyText": "{\"error\":\"failed to get bootstrap configuration for given external key\"}\n"
   },
   {
    "case": "no-authorization",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A02%3A12",
    "status": 403,
    "headers": {
     "content-type": "application/json",
     "content-length": "52",
     "connection": "close"
    },
    "bodyText": "{\"error\":\"missing or invalid credentials provided\"}\n"
   },
   {
    "case": "other-scheme(Bearer)",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A02%3A12",
    "status": 404,
    "headers": {
     "content-type": "application/json",
     "content-length": "73",
     "connection": "close"
    },
    "authorizationSent": "Bearer ext-key-012-ca",
    "bodyText": "{\"error\":\"failed to get bootstrap configuration for given external key\"}\n"
   }
  ]
 },
 {
  "file": "012-raw-plain-nocert",
  "service": "Mainflux 0.12.1",
  "commit": "9ce31b65a639c88acd3b5095d0bf500130f82c67",
  "deviceConfig": {
   "generation": "raw",
   "externalId": "02:00:00:00:01:12",
   "externalKey": "ext-key-012-nocert"
  },
  "exchanges": [
   {
    "case": "ok",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A01%3A12",
    "status": 200,
    "headers": {
     "content-type": "application/json",
     "content-length": "407",
     "connection": "close"
    },
    "authorizationSent": "ext-key-012-nocert",
    "bodyText": "{\"mainflux_id\":\"645d4d3e-8c50-4082-b69b-2632d2527543\",\"mainflux_key\":\"6259658f-cf2a-41b1-a5ea-1afb84999bfe\",\"mainflux_channels\":[{\"id\":\"2bc352f3-e662-4b1c-8130-897c4d5b9752\",\"name\":\"data\",\"metadata\":{\"type\":\"data\"}},{\"id\":\"8269d2df-6189-493a-be5c-e54bba125509\",\"name\":\"control\",\"metadata\":{\"type\":\"control\"}}],\"content\":\"{\\\"broker_url\\\": \\\"mqtts://broker.example:8883\\\", \\\"note\\\": \\\"from real mainflux\\\"}\"}\n"
   },
   {
    "case": "unknown-id",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3AFF%3AFF",
    "status": 404,
    "headers": {
     "content-type": "application/json",
     "content-length": "51",
     "connection": "close"
    },
    "authorizationSent": "ext-key-012-nocert",
    "bodyText": "{\"error\":\"failed to read bootstrap configuration\"}\n"
   },
   {
    "case": "wrong-key",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A01%3A12",
    "status": 404,
    "headers": {
     "content-type": "application/json",
     "content-length": "73",
     "connection": "close"
    },
    "authorizationSent": "a-wrong-key",
    "bodyText": "{\"error\":\"failed to get bootstrap configuration for given external key\"}\n"
   },
   {
    "case": "no-authorization",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A01%3A12",
    "status": 403,
    "headers": {
     "content-type": "application/json",
     "content-length": "52",
     "connection": "close"
    },
    "bodyText": "{\"error\":\"missing or invalid credentials provided\"}\n"
   },
   {
    "case": "other-scheme(Bearer)",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A01%3A12",
    "status": 404,
    "headers": {
     "content-type": "application/json",
     "content-length": "73",
     "connection": "close"
    },
    "authorizationSent": "Bearer ext-key-012-nocert",
    "bodyText": "{\"error\":\"failed to get bootstrap configuration for given external key\"}\n"
   }
  ]
 },
 {
  "file": "012-raw-plain",
  "service": "Mainflux 0.12.1",
  "commit": "9ce31b65a639c88acd3b5095d0bf500130f82c67",
  "deviceConfig": {
   "generation": "raw",
   "externalId": "02:00:00:00:00:12",
   "externalKey": "ext-key-012"
  },
  "exchanges": [
   {
    "case": "ok",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A00%3A12",
    "status": 200,
    "headers": {
     "content-type": "application/json",
     "connection": "close",
     "transfer-encoding": "chunked"
    },
    "authorizationSent": "ext-key-012",
    "bodyText": "{\"mainflux_id\":\"a6b46112-b6fa-479a-8556-6669b812c661\",\"mainflux_key\":\"939247b9-ccff-43b8-adb6-59d24865a4bf\",\"mainflux_channels\":[{\"id\":\"05718b33-f2a6-4bc0-90c5-118e776f10a8\",\"name\":\"data\",\"metadata\":{\"type\":\"data\"}},{\"id\":\"8bd3f422-8ea3-4935-971d-0d6748d7eaf1\",\"name\":\"control\",\"metadata\":{\"type\":\"control\"}}],\"content\":\"{\\\"broker_url\\\": \\\"mqtts://broker.example:8883\\\", \\\"note\\\": \\\"from real mainflux\\\"}\",\"client_cert\":\"-----BEGIN CERTIFICATE-----\\nMIICsjCCAZoCFHmJudAdh6/pPWA+nvLT5sTwmKb0MA0GCSqGSIb3DQEBCwUAMBgx\\nFjAUBgNVBAMMDW1mLWludGVyb3AtY2EwHhcNMjYxMjA0MjMyMTUwWhcNMjcwMTAz\\nMjMyMTUwWjATMREwDwYDVQQDDAhkZXZpY2UtMTCCASIwDQYJKoZIhvcNAQEBBQAD\\nggEPADCCAQoCggEBAMGOeHXWgeDA3tiAODWhXCxrTY0mHiF4869hP3lIBhzU9PYg\\n2o549d4otMfQHz3LT25/tg+IMcXevY2hEI7n6EaGKbVRk40maKI5eVlFo7Xgt4O1\\nNbyHF0lzJ6mP4vBXTAZiQOxrhsT1R/LUQWGiCmx6oPYVcBmCQGG0Wk1zwAff5H7+\\nCRok/GR07OPLo8+7V5kDN+KC2BXvmBB87dsdNz3X0ZgQteAGLttM2w0TrfaDZZg1\\nvBcNkwU33rH/o/LHfdppssnXGQP9UMQ8UY0kbdZEmK9EgG/XRKy8rYQXZzE+j58a\\nr4pmpqOEnMMiwqi9UZp2//meduZtta+soxlcmZsCAwEAATANBgkqhkiG9w0BAQsF\\nAAOCAQEAPdHDMdsVaI8wol0kuMj73aJtDviLTqJVf+2VF3LS3EXhrhNQzXB5q0E3\\nYxlmVYIpDeTdDObUc08ywdygpmScV/P1t/xL5MCpPQ5mRdlqKReW8+O8qqaucGu7\\nW17xNPdIvwJkC7h9X0K5+c0T8GKU9qANNE0yBW/ZsYVw31XOsCMRnARZPmEuZZbI\\nhLl4mh9RJ8bhubiTimYYJi/wc2QJSnWBLqmhWybTqxxODhwPG5t1k41npRSobLns\\nZb8hL+hu7Mzm56ztg648TbORprR2oTnuYP3huDd7YNITZ+DgRWkMQZlZspPTzKyA\\nrcHpfqD377O0lm4G3AGK8szwRdbB0w==\\n-----END CERTIFICATE-----\\n\",\"client_key\":\"-----BEGIN PRIVATE KEY-----\\nMIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQDBjnh11oHgwN7Y\\ngDg1oVwsa02NJh4hePOvYT95SAYc1PT2INqOePXeKLTH0B89y09uf7YPiDHF3r2N\\noRCO5+hGhim1UZONJmiiOXlZRaO14LeDtTW8hxdJcyepj+LwV0wGYkDsa4bE9Ufy\\n1EFhogpseqD2FXAZgkBhtFpNc8AH3+R+/gkaJPxkdOzjy6PPu1eZAzfigtgV75gQ\\nfO3bHTc919GYELXgBi7bTNsNE632g2WYNbwXDZMFN96x/6Pyx33aabLJ1xkD/VDE\\nPFGNJG3WRJivRIBv10SsvK2EF2cxPo+fGq+KZqajhJzDIsKovVGadv/5nnbmbbWv\\nrKMZXJmbAgMBAAECggEAAnMosCkiZLNcPrZEv90GeyNyjFZOrFLJFs+uy3yvYx8I\\n6LKawZHjXsf6HctTEeeoXjgsmD67josWsBu5R23FAVuCXKKnMPKrAV6j3A7nFw68\\nk+SvxO6ay1mzR1CkaTFZq30D4FouDwEhw3+PQkqYQi49KlA0JoaBBRuQxwkvhYn4\\nyfKt5k1XjsnbYONI0LZS7kb10cIXGHX3CxaVZUK1z+7/R5s0VzjF5ey+xeBmnK87\\nsmDeJccYFiW6PCkIY8hBl4qRdXbwb8zLRspwQYqKZzC0A+wtFD3ynOAB4l9ipXFq\\ndwOyhgFpKq/0vjZxVfjTZI58oAOWpZ+5jhNtIY+DeQKBgQDj/TxlVayoNEqvHWYo\\nLwOvY07S3Yaj4W876HIW781HWbHTseo7fJFyI5Lkle1AI/NGHvj2xHleZoHSJjDK\\nmv2wayy2q8wQBUTUKoz0VyX0hXvpiAiWRztvC/DD6d6Rw8d38C09OmkDiKqIZAqd\\n28/+ofXFQ3+jjylDj1iAbp0RaQKBgQDZVkA4hyJr6Vz1LH/OpcREL5DfoN2yGy0I\\nCoeuYkCjTyTYhiyqtdKFQmgeFeGcPlGqAmYeKP64onjTBfBRm3w5NI0SU+2/KT0r\\naD1QkFP6jlIcXaV2TBd7QdvhdgfB4hqweLb2pc6sfMz8F77wDYhyfHoTNTSwF7s1\\ni0Vpf84uYwKBgQCkCsrREvMXWADAvUOK+EELikXl/VTqR8OUdGzayhKHGyeTbXle\\n8gNo/+WqqaG6u+NH+fMjAz1cyh7wyV/j998/d+4FRdmfUVsz2aXwDWCW7xC4eJPN\\nJVXDUfEb1gO6GAdG6j5yxrtWupgRaQImkUm4Kmq/VBDb659CKDsCthQ3uQKBgQCg\\nr3pP0OmMKz9FLZ9Y44pWd2x/SmpesmT62v4x2ga8N1mglKMVm9SIHe7ov3jMke7C\\n6X8isWCSld0K+AsT6wdPLCFY+aB/gzfsjec3V14fk3X17u7UpbF+udSdvyxBFrBw\\n5O8xMKm7MZJEmDHdPcQyEQIYjW/k+ca58bxiIdIIzQKBgQCOWx8dXKwHV7jW+XS6\\neA9422KRPFxOaofDR2nxl0TGBKByoALxVNwpdspO7ZPOZ5P5lwcMC1rxJPbhN+Xy\\nnmX9hlElfxDBEHbjzmQ7Bf93ir3+KMtMxmOzhYWkjaWcOFp4ODLnJWofpmYxgMBp\\nKPkM9C7LcUWrps9ylZl1Xq6kjg==\\n-----END PRIVATE KEY-----\\n\",\"ca_cert\":\"-----BEGIN CERTIFICATE-----\\nMIIDETCCAfmgAwIBAgIUbn4UakGjAIDJ+qbrJwGuX+Cihl8wDQYJKoZIhvcNAQEL\\nBQAwGDEWMBQGA1UEAwwNbWYtaW50ZXJvcC1jYTAeFw0yNjEyMDQyMzIxNTBaFw0y\\nNzAxMDMyMzIxNTBaMBgxFjAUBgNVBAMMDW1mLWludGVyb3AtY2EwggEiMA0GCSqG\\nSIb3DQEBAQUAA4IBDwAwggEKAoIBAQCnnstPKEt5Q4zH7+NnvHx23x+89N3OcODm\\nZLWWcIlcuxFxudspmIaBplyD0TvjgW0NA/gzwkZyHlKb5nKPfq4+zWlGy8mJM493\\nbhgtIbgoCkWCYr1lC8z9nzOo3xm5slhI75R8baL+R9+cmTEsO9ulSE5X/iEcW5f+\\nw6RqNS2ivVcCDmoVbeKpCgMSLWKhOQXARrYHR4TtYDJ7b0+yOlopN2DUVtWqPwiG\\ntGhhgR/hrGZWqwjszk4X3aZKWdNZ+kR1uuRaYvv4mcXgEpXIZx91BS0imvCLutwF\\nxEmQY7YZyiFOZr0waPaa/0izCGzZztKW1ewz5BtmrYfEdAenkGbtAgMBAAGjUzBR\\nMB0GA1UdDgQWBBRGj7FerFGLmsSgMaL8DWl3dUqDZTAfBgNVHSMEGDAWgBRGj7Fe\\nrFGLmsSgMaL8DWl3dUqDZTAPBgNVHRMBAf8EBTADAQH/MA0GCSqGSIb3DQEBCwUA\\nA4IBAQAeGuEjRl2T9uVZczELLnUT59sGbTAkUe+TFEREKtVLCWb4k8qJxS80M9t5\\nQnu8Xsft6En//rAYc4mvQjc4snQ22SSDXeM+cyng+qjjuO7lwbYLofXJ4qmfamII\\nVQ5Rf2cEo+suyUD5a30lVYfRb834D26M8Pn1evZkyXSnYX0Vf7tfQFvuHlI2nAEf\\nB5EfIjZMdjMJbD0udCw5FmSpaioH+UxWmAaqhWLTyu582614Cr9vy1YibD5IlLg3\\nisDOrhOro5rlYMQRAKs1nxn7L/zhWs5ypl2v7qOG3FU04xwQg1MdXoJC7GDFcEnE\\n/zaE8yheIbXaLgcjQWkGdMkvpg5D\\n-----END CERTIFICATE-----\\n\"}\n"
   },
   {
    "case": "unknown-id",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3AFF%3AFF",
    "status": 404,
    "headers": {
     "content-type": "application/json",
     "content-length": "51",
     "connection": "close"
    },
    "authorizationSent": "ext-key-012",
    "bodyText": "{\"error\":\"failed to read bootstrap configuration\"}\n"
   },
   {
    "case": "wrong-key",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A00%3A12",
    "status": 404,
    "headers": {
     "content-type": "application/json",
     "content-length": "73",
     "connection": "close"
    },
    "authorizationSent": "a-wrong-key",
    "bodyText": "{\"error\":\"failed to get bootstrap configuration for given external key\"}\n"
   },
   {
    "case": "no-authorization",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A00%3A12",
    "status": 403,
    "headers": {
     "content-type": "application/json",
     "content-length": "52",
     "connection": "close"
    },
    "bodyText": "{\"error\":\"missing or invalid credentials provided\"}\n"
   },
   {
    "case": "other-scheme(Bearer)",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A00%3A12",
    "status": 404,
    "headers": {
     "content-type": "application/json",
     "content-length": "73",
     "connection": "close"
    },
    "authorizationSent": "Bearer ext-key-012",
    "bodyText": "{\"error\":\"failed to get bootstrap configuration for given external key\"}\n"
   }
  ]
 },
 {
  "file": "012-raw-secure-all",
  "service": "Mainflux 0.12.1",
  "commit": "9ce31b65a639c88acd3b5095d0bf500130f82c67",
  "deviceConfig": {
   "generation": "raw",
   "externalId": "02:00:00:00:00:12",
   "externalKey": "ext-key-012",
   "secure": {
    "key": "a0b1c2d3e4f5061728394a5b6c7d8e9f"
   }
  },
  "exchanges": [
   {
    "case": "ok",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3A00%3A12",
    "status": 200,
    "headers": {
     "content-type": "application/json",
     "connection": "close",
     "transfer-encoding": "chunked"
    },
    "authorizationSent": "000102030405060708090a0b0c0d0e0f6146ebed9795f99564e264",
    "bodyHex": "c2d6e7533fdb9e75ffa0fea2bb0693a98deea1c748e729d405d6cdb6dc17b585d593360a4c9e693bee3095a79200cf400571af3ec510b9849cfc9681a8499a480c67e3df0dabc74bac84fcb5a63f4f108094f7877b93b5e07478cb0e84e5c7fc86b2097e4d45e64ebb09f847841ee3c677796064fbf54544727c9579dc4ccf89dedbb648b4e0e2c4792503a708681f8ad75903c3a32d162e6c6f39a4c44e9eb3bf650543b7b6176e10378fe432dfd2ceccb182093a44f635e35876477f3ad834353090904dd2a547afcb5c842a317f9db2ef7489ae99596b149c1e0e1511414d66e3893a621909a3345029a866ad39f64c76eb07c43b2cf2adb77a789e456cc4db8e62f8c22d7c9a7945f249c07ca63adc5f1274a11576d8bc77abb213c20d1ed7bb5a3dc803a07f8887404b97cbd9f00a032fcf10969044b699d41f9dccc58f5791018dac7facb293769f8bc4c9e5d3967a2e2aea8185d3e797322f3308dadbc517ac8904ed2a55f6fe90df8a230baa419c7fe0257b93d0f0a911d7e156c6ca74c28ab72e0048f534ce1d168ccee29fd0fa991bbfe14215c6f0c4c55b55c4f40e5eda1d9e04be5e81f74fee2c5d76c1285cc1687592b208d78d50a33658bc7f931eb3b6d6288aef802273212063288dfed55426f9ec20bac7d49fe60e0ef5f09d46ab85986c3e01c6bc5e91c8f8ecca3b6f8dd2e30bdcb8306842efd8b75051c5565fb508e691640e7924dbfd073c029e1d3d5f22670829dca59b01dc34f20386384ef1711dfc4a1aa04aa9c07dd8d5efc070d95cb801f75fa29ac04d47e4fee2a0f1ec9682aa768b094adc609b91ad371dd0a8d43f2cfd5d811769af179658c122d3f0a4de6adf5e58d16b7844c68e558e1c28f1f9741f6083ab8b37291a3ef756c40c7b601cda9894f1fddbb3ca16f4083e5a0e327974a49cf9cace175a4c004fadfd61f5c66e74b86cf8787371dbefe78fd9701a54d6853f2074155385bff39427790b0dcda2ea26108017740886586ae952a2c5d929d7cb274aeea37b9bdec1c9d37c813c7ec67d53d93e2482cb790177b85d20a9e7d7961f596d0d14a857e23c66d69c1a2ae4b27a4634c32aa21181f911c4e3e5a38ce374e26939119b265cf73493ddb60aea6c059369d2033fe8ec9e4cb2ab5480c76710ee6eb9aa1e9c007ddefdaaa2302983a0fe80d7a3b2603b736a9aec491825423ef27d0b39ee0830fd60bef2ba94abe563e40c94111d05a4ed16316a1a0de9082cb009ff21b6ab7ddb16e376d8f25de028aca2d368860f55f6c6dee34fcde026687cdacb8a7509fb71a7a54620897908f99ff809ffe9b5c4f0b2f3835244bd7bc400d68dd5c74bb1585a11416867a29695ed8bddb7d82ce8ee5ca4564ee7ef96d92efba8dfdb0c7b4a40f4d9b32841bd53ad047b5a2a6f9f65ec26456ff1401d67758229e8f3bd962df59e9a095bf1ab273d2be54c84ce363aebd7f39670f9dd9ca964a85c1d747bc6ff460e454064b9add0666e3afc9e88577c7380b287c6c84684047526c76869c49a4f2ff0826e4cad06eb2331da67386d80c3af8b788a563f5397d1fef61f3b253ec4adfd9d8ff3fdb2cb1c4180e60c8de61d48c8873abd5db23a093e8e00365735ac8832b82ea885d7a907536eb1b3ee3bc91bc8f3c8ed48ccce4b278c4e01fc6a87eff76ffc76a400c79d2d3a59aca717261edbf497313b08bf6cd5d587b9d4c08df5d719167fe83f48e1471c3c491a72a842bd0c59363de416c35a90270423c8fe71342d1366a5772bc6a4889ac9da9e6a20797a53d0dd096d744e2b6b1e3ab8b64f23608e47afbce18e56e21b88f2e70509a1295445d895b18a023886a9c6013952152231118a4699baeb6d2b66f1a0c7bb6b1dffa9a37f0750bda2fb6be8a770f94c0ccf96aa649a54a0589a52cff3786f749565621000a4d4d218ce829ff35beca397e309071838a8da2cab4539cf027c041bc57434890a43ffa5352d11995b1c86ef780bc45f8f0b05405654fce3c60ee7dd3469bde611969ffd3ca6388650fd418d72f0dc5a7a6c83d6d01ec17278029b063027c309db3503d7c649d5e521fade79f8124d3373e7fdc1799570caa708b17c6979e709478fba1a6c6b96f98f5ac55c066d63d11d1210c2c6b4520cb26286a3562f03571e97cfe9f18a52f71b75693ad68bd9000f1312dca85becfa9cd2645f70cd2fbce126a1dfa72e3532d89c55d271f086ac164b6327ea1c0a384779b75614999d8a8ccca216e6b19d754f34ad7e85e4e4a36111435d7cd82086624cef9d05394a545d0bc2088031142c2991d07d7bf64ec3cf2c158af65fa6677f1773bf52a1ddd9771a362deeae0dc8fad5d63f3f686abb2f79af45b16a7f55673b9bafdc21960fb2fa7a13a7c66aca265082db336b4b8e601d6cf7d9fc1eff81c2beb8bd948a635049683df4464b5c89b222e95522b2cf36c11611a8f7cf4a5740744839e75295df077faebaff742cec6bde9e6412d8909483d13f510b7878e6519ba118a5686d5b6386fe674de4bab8646a5b6398c7e119a1702c79f4a7be0ae175ae1893f585a8b18367844b7e8a0c2ea2d115c7698f2f35edd0b382010db4e3093366864ca95451529c5266fc9687455797fae6894083196b590f838406c8abb8fe662b5dbaf6d8834749a3e89cb8476a5452f3a2eedfad184d3ee98e0903153b157b3d9e68c6ef4fb47d8a4360c7135998ea7a3a7042ff533d86b077e769fa86bb1d39dbe0aab8ad6a01d283b2db3d3c787b11a48d0353012170cd4d56b52b93a5cb12a9e565c0ec963fc8953735ea8305a7e97155b480b4b91c0c0062911d92f4613dc1cd09257c8eb06afe76cf3fef41a2257fc20424a3aac6f24224698570679234636edb2128bde09259297cb3955d0c666b74d0b7560ebeb98db807c20aee8dfea08aeff08517433e1c1852785ceabe0011371b33f9bae4ccc9f8b948d49248f6bfe76d34de63300447263719dfd030f82af5821213c1a5082b418a9ef51bb3b7a9724385cab1681101e263edc7200d519b21096fa133507fb3e675134e685b3d1803c39917b80df8e25efb450a5758f5518cc53cd1b27b6a151ce50b91c24506e2f8ab956e15167adc29d12b2a8132b7685c8677361edf7ecafbc1424492b45e60d2d1a10d72ce38e293243a1b8ccd2e5e8f99df57c2f503d1cefda86cc147c2832ea741e7bd13edb32ea90dd41485cab74805b5b3c548ebede1c7f12b081c870b1ef0764db018a56c3ddbb8c7cfd97c028931b3d297fb6f441473f88211f66023a66fb830f4a3ad19ca14a5b89bf2b76ad3184faf9a9dfa0139a24d7d18c7f34bbade4acb2d615a0535d064ae39a7a48b75c4a4bcfb5f577d90e76dab9b7bf06ea95e717ff58d05b3235f692579b4f26010ec99e0745af2b3a6d5bc68b17c0679ea400f1e1f8c422b2339ea92c420f0d895c98f12612e7d3eb4e2cab7109cd45faea7ecfd45a9de708314d1212a5635a88a247db30a530c638ac50201f9954b840e9bfa9aba85cd46bcc4ed5f92681a7821de83b7e045624355bd9444e74d5dae86a920d27974d83a1b74aa5876eb41770aa18eae80711293f3523045dbefdbd7f4945cd1c60ade1a13cebcd3e7bad2fc0a8a43e670e6366ac4f759d54626baf627b89eed528d18f19c7b0c80344a2533e10c3a777ab8d3a8e9d61970f4559eb8c1eea34baf2ce2cae0e44f7e2052d56d9be544238137dbf3946c5b8ae92c2ce89c94d442201b189049e09b5d4da6638deac4e920849a02382c4b8456532b9d1dd7e79b1331f51742aa6266018d7f1cc85b04c70ee0046c7483e276be357e75b4792d14d70ec368832264abb65d62cc9f4d3ee0fb75518b6f82933f984fc62916a8d4888fb8f268250de673c7f496575b457512825c5a93269423578c0987af4526638f55231a18dd3d8578be606b7c18ffbb79b60f8a838a46b0a5ecda643655665aeafa4512c3f90c0a5576c7800a795133dc388a399f0bc8a2dd5be77cfaf47b032920ba3e1f56d8f8c96126d5e08f46370719ecee5e22db614836ea5a1c325d041f950efb7edef5145d7b08fdb2e3abe560efb8a3bbdd3d3af67da887a0ceca845bd471d0824df10eec2e37b301b6d846aa39054b0fcf1a9749298608f486c5e9bfc2e052d23729af302c7a2d458c245e6f787e991e60dde00d921df8397b321183070ed0e67551df81099cb44a9bc9c27dca025faa905be19054336be6a5def0b5684ad1b0060e5b28ae9804899c6e7d2308ea909094a49b88889c3d2bb4e791aea8c2147eca4cefdb712405c27ac4c8c2a77be04fa8fa41a33374fce4f9e57914c02b9cf090bdb645ea87c2b3fb9af6616e89b3e862183f4f22b7b1090411ae1073c115698d35ef05daf3300da46bed6dcfd13851a9fc971b3af528bed14034f5f4672f8b5a3a4c4d315c5c617ba0ddcb3221935ef4a9be7904efb169bb863954ca1802180992b1e121059ef910ce7321d30ae4574e7880182a4dd3c43f73681dd5cce6fcff44ef3599021847c45d6a8ffa24ab75b3e2dcd665cde8deebe4eeb5b8fd78e3f4f60df1868cc2ef369c7e0279cfe2320a541a4c083efdc272f5808db05e1ce34dfb80b3984de8c7461bc88c5e6964111ee2e7da43772dcd39f9b91178ac55343c4e6c7c1c35757baa716c4f9787c8be9673849d5d6c9e2c9288291bb946e0a4bdb5acfbbf80edd5455b629d06e20daa35e663ce15fccf46ab64b7cf24182c8b732ce5cb305c3fd27e41a3f4727b68a499fd4d79da164019dfbe1fd9cbabae170656e288f218b6c0277b13e6c8198721d079211310e943ec72abbb3120feeaaab47dfa946b24b2079ddf6ca175731673a8e2ee5e2e44cf3b3d583919f54cef7a26151cfb8608ef95f6acc9c70d12aaa65742d5a9a0d7ceddcbc1048b186c02d9498b0e3d07f8fc70950b9a9572583f37a2684ab6fa1d34c726cb7482f95250a4f739899729dfbbcf9c019a5ef88ec747162e69db0608745a6b3c06512e24fa97d8df1b973b4c6e8058c77493dcabb2c649c2163d0618f6f78b4ba30e5d6beb865c20164421f2bcf0d90b0b16605488384fd959f3df2ae307acb4f0908a131e6ed5e87d1fec2aa3c224081bccde537fe47a3524cce3563da7dc83970d32a609f751799dc6fa9fa06ac00e9c106735e0326c4a14f5c5029d37553fb6aa626b487ec7ad1e13582c534edc14ec39faf8a2bce86a33b15bb615be20d72b8f66c3ea65c7c68b87547c602a6a29d67cf51b6d8764202f12289633c07197e1602bace8fda485014c11045a69caeddab8f4ae9b288f56e9c82f444e9a860a46d7785bab8b1aad819c4cffc4b2405e71459b9321c488700f707c50e253b97d2d7fa4537eadbe2a83b5a8f404462392a9c6c41a83d0b96e5a54ab5b67f97ed724c8ee35bdbfa9b9b30b61c4546a85dd666ece52190ebcf7e58f80c82788045087499fbcbd2cf9bfc5ffc5d98614f840c51e6bd4240e0b014791f4898b6e9d3575d7edc0c09d01151bba7c82cb57a0c3baa7510744295221b180bf2b89b9d707d88286f8a7f9dac6b232260aee853921264a9b24b1c08fec1bbaa76220f805beb1ca0ee73db966531986c42d058711352d1157c015270952bef52ca2799e5efcf840a32a1d3eb06afa20cbe6020fa5219181dfe33accecc337b9252687ade96cf44c0282a220cfc0abfb9cd399f96db1ed7371fd10870659873d399004d86bbf45c95632317c398477559c543bc021d61189e2f87f4e04473e6e36bb2f2816e3dd044d7b6f25a7f3d2fbca43307dc9a251cda0d3dad1835db7a606b71518a4a8aee1704b2a38592af5eeea355089ff72eed331f2268632fc58635ff8ebcea0a0d241c4a9f76c631a121b2e232d7c64077b628f4512c077757ef2f37e9e0a7bebd2785396f957eabf8a20d51ac15d599364f4058796697b94e96a6d78c4b4a756fc32525071f60f9c656e41686caa8c5919cceadccf244f6188fb92178f7d9400d48e6f58d698cccbbb47073ebdf1112913e8c99544d6928a6523c9838f65409108442400688bc288e905f278a4b7483cc35c4537c92f14a780325ef8cc0c27a7a7d3281b3fc864c4761d4666449f9d6008f3b81401427c76c62027dab23e63b6340518f924112ae393ba3479",
    "decrypted": "{\"mainflux_id\":\"a6b46112-b6fa-479a-8556-6669b812c661\",\"mainflux_key\":\"939247b9-ccff-43b8-adb6-59d24865a4bf\",\"mainflux_channels\":[{\"id\":\"05718b33-f2a6-4bc0-90c5-118e776f10a8\",\"name\":\"data\",\"metadata\":{\"type\":\"data\"}},{\"id\":\"8bd3f422-8ea3-4935-971d-0d6748d7eaf1\",\"name\":\"control\",\"metadata\":{\"type\":\"control\"}}],\"content\":\"{\\\"broker_url\\\": \\\"mqtts://broker.example:8883\\\", \\\"note\\\": \\\"from real mainflux\\\"}\",\"client_cert\":\"-----BEGIN CERTIFICATE-----\\nMIICsjCCAZoCFHmJudAdh6/pPWA+nvLT5sTwmKb0MA0GCSqGSIb3DQEBCwUAMBgx\\nFjAUBgNVBAMMDW1mLWludGVyb3AtY2EwHhcNMjYxMjA0MjMyMTUwWhcNMjcwMTAz\\nMjMyMTUwWjATMREwDwYDVQQDDAhkZXZpY2UtMTCCASIwDQYJKoZIhvcNAQEBBQAD\\nggEPADCCAQoCggEBAMGOeHXWgeDA3tiAODWhXCxrTY0mHiF4869hP3lIBhzU9PYg\\n2o549d4otMfQHz3LT25/tg+IMcXevY2hEI7n6EaGKbVRk40maKI5eVlFo7Xgt4O1\\nNbyHF0lzJ6mP4vBXTAZiQOxrhsT1R/LUQWGiCmx6oPYVcBmCQGG0Wk1zwAff5H7+\\nCRok/GR07OPLo8+7V5kDN+KC2BXvmBB87dsdNz3X0ZgQteAGLttM2w0TrfaDZZg1\\nvBcNkwU33rH/o/LHfdppssnXGQP9UMQ8UY0kbdZEmK9EgG/XRKy8rYQXZzE+j58a\\nr4pmpqOEnMMiwqi9UZp2//meduZtta+soxlcmZsCAwEAATANBgkqhkiG9w0BAQsF\\nAAOCAQEAPdHDMdsVaI8wol0kuMj73aJtDviLTqJVf+2VF3LS3EXhrhNQzXB5q0E3\\nYxlmVYIpDeTdDObUc08ywdygpmScV/P1t/xL5MCpPQ5mRdlqKReW8+O8qqaucGu7\\nW17xNPdIvwJkC7h9X0K5+c0T8GKU9qANNE0yBW/ZsYVw31XOsCMRnARZPmEuZZbI\\nhLl4mh9RJ8bhubiTimYYJi/wc2QJSnWBLqmhWybTqxxODhwPG5t1k41npRSobLns\\nZb8hL+hu7Mzm56ztg648TbORprR2oTnuYP3huDd7YNITZ+DgRWkMQZlZspPTzKyA\\nrcHpfqD377O0lm4G3AGK8szwRdbB0w==\\n-----END CERTIFICATE-----\\n\",\"client_key\":\"-----BEGIN PRIVATE KEY-----\\nMIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQDBjnh11oHgwN7Y\\ngDg1oVwsa02NJh4hePOvYT95SAYc1PT2INqOePXeKLTH0B89y09uf7YPiDHF3r2N\\noRCO5+hGhim1UZONJmiiOXlZRaO14LeDtTW8hxdJcyepj+LwV0wGYkDsa4bE9Ufy\\n1EFhogpseqD2FXAZgkBhtFpNc8AH3+R+/gkaJPxkdOzjy6PPu1eZAzfigtgV75gQ\\nfO3bHTc919GYELXgBi7bTNsNE632g2WYNbwXDZMFN96x/6Pyx33aabLJ1xkD/VDE\\nPFGNJG3WRJivRIBv10SsvK2EF2cxPo+fGq+KZqajhJzDIsKovVGadv/5nnbmbbWv\\nrKMZXJmbAgMBAAECggEAAnMosCkiZLNcPrZEv90GeyNyjFZOrFLJFs+uy3yvYx8I\\n6LKawZHjXsf6HctTEeeoXjgsmD67josWsBu5R23FAVuCXKKnMPKrAV6j3A7nFw68\\nk+SvxO6ay1mzR1CkaTFZq30D4FouDwEhw3+PQkqYQi49KlA0JoaBBRuQxwkvhYn4\\nyfKt5k1XjsnbYONI0LZS7kb10cIXGHX3CxaVZUK1z+7/R5s0VzjF5ey+xeBmnK87\\nsmDeJccYFiW6PCkIY8hBl4qRdXbwb8zLRspwQYqKZzC0A+wtFD3ynOAB4l9ipXFq\\ndwOyhgFpKq/0vjZxVfjTZI58oAOWpZ+5jhNtIY+DeQKBgQDj/TxlVayoNEqvHWYo\\nLwOvY07S3Yaj4W876HIW781HWbHTseo7fJFyI5Lkle1AI/NGHvj2xHleZoHSJjDK\\nmv2wayy2q8wQBUTUKoz0VyX0hXvpiAiWRztvC/DD6d6Rw8d38C09OmkDiKqIZAqd\\n28/+ofXFQ3+jjylDj1iAbp0RaQKBgQDZVkA4hyJr6Vz1LH/OpcREL5DfoN2yGy0I\\nCoeuYkCjTyTYhiyqtdKFQmgeFeGcPlGqAmYeKP64onjTBfBRm3w5NI0SU+2/KT0r\\naD1QkFP6jlIcXaV2TBd7QdvhdgfB4hqweLb2pc6sfMz8F77wDYhyfHoTNTSwF7s1\\ni0Vpf84uYwKBgQCkCsrREvMXWADAvUOK+EELikXl/VTqR8OUdGzayhKHGyeTbXle\\n8gNo/+WqqaG6u+NH+fMjAz1cyh7wyV/j998/d+4FRdmfUVsz2aXwDWCW7xC4eJPN\\nJVXDUfEb1gO6GAdG6j5yxrtWupgRaQImkUm4Kmq/VBDb659CKDsCthQ3uQKBgQCg\\nr3pP0OmMKz9FLZ9Y44pWd2x/SmpesmT62v4x2ga8N1mglKMVm9SIHe7ov3jMke7C\\n6X8isWCSld0K+AsT6wdPLCFY+aB/gzfsjec3V14fk3X17u7UpbF+udSdvyxBFrBw\\n5O8xMKm7MZJEmDHdPcQyEQIYjW/k+ca58bxiIdIIzQKBgQCOWx8dXKwHV7jW+XS6\\neA9422KRPFxOaofDR2nxl0TGBKByoALxVNwpdspO7ZPOZ5P5lwcMC1rxJPbhN+Xy\\nnmX9hlElfxDBEHbjzmQ7Bf93ir3+KMtMxmOzhYWkjaWcOFp4ODLnJWofpmYxgMBp\\nKPkM9C7LcUWrps9ylZl1Xq6kjg==\\n-----END PRIVATE KEY-----\\n\",\"ca_cert\":\"-----BEGIN CERTIFICATE-----\\nMIIDETCCAfmgAwIBAgIUbn4UakGjAIDJ+qbrJwGuX+Cihl8wDQYJKoZIhvcNAQEL\\nBQAwGDEWMBQGA1UEAwwNbWYtaW50ZXJvcC1jYTAeFw0yNjEyMDQyMzIxNTBaFw0y\\nNzAxMDMyMzIxNTBaMBgxFjAUBgNVBAMMDW1mLWludGVyb3AtY2EwggEiMA0GCSqG\\nSIb3DQEBAQUAA4IBDwAwggEKAoIBAQCnnstPKEt5Q4zH7+NnvHx23x+89N3OcODm\\nZLWWcIlcuxFxudspmIaBplyD0TvjgW0NA/gzwkZyHlKb5nKPfq4+zWlGy8mJM493\\nbhgtIbgoCkWCYr1lC8z9nzOo3xm5slhI75R8baL+R9+cmTEsO9ulSE5X/iEcW5f+\\nw6RqNS2ivVcCDmoVbeKpCgMSLWKhOQXARrYHR4TtYDJ7b0+yOlopN2DUVtWqPwiG\\ntGhhgR/hrGZWqwjszk4X3aZKWdNZ+kR1uuRaYvv4mcXgEpXIZx91BS0imvCLutwF\\nxEmQY7YZyiFOZr0waPaa/0izCGzZztKW1ewz5BtmrYfEdAenkGbtAgMBAAGjUzBR\\nMB0GA1UdDgQWBBRGj7FerFGLmsSgMaL8DWl3dUqDZTAfBgNVHSMEGDAWgBRGj7Fe\\nrFGLmsSgMaL8DWl3dUqDZTAPBgNVHRMBAf8EBTADAQH/MA0GCSqGSIb3DQEBCwUA\\nA4IBAQAeGuEjRl2T9uVZczELLnUT59sGbTAkUe+TFEREKtVLCWb4k8qJxS80M9t5\\nQnu8Xsft6En//rAYc4mvQjc4snQ22SSDXeM+cyng+qjjuO7lwbYLofXJ4qmfamII\\nVQ5Rf2cEo+suyUD5a30lVYfRb834D26M8Pn1evZkyXSnYX0Vf7tfQFvuHlI2nAEf\\nB5EfIjZMdjMJbD0udCw5FmSpaioH+UxWmAaqhWLTyu582614Cr9vy1YibD5IlLg3\\nisDOrhOro5rlYMQRAKs1nxn7L/zhWs5ypl2v7qOG3FU04xwQg1MdXoJC7GDFcEnE\\n/zaE8yheIbXaLgcjQWkGdMkvpg5D\\n-----END CERTIFICATE-----\\n\"}"
   },
   {
    "case": "unknown-id",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3AFF%3AFF",
    "status": 404,
    "headers": {
     "content-type": "application/json",
     "content-length": "51",
     "connection": "close"
    },
    "authorizationSent": "000102030405060708090a0b0c0d0e0f6146ebed9795f99564e264",
    "bodyText": "{\"error\":\"failed to read bootstrap configuration\"}\n"
   },
   {
    "case": "wrong-key",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3A00%3A12",
    "status": 404,
    "headers": {
     "content-type": "application/json",
     "content-length": "73",
     "connection": "close"
    },
    "authorizationSent": "000102030405060708090a0b0c0d0e0f6513e8b2939ee7953fb62f",
    "bodyText": "{\"error\":\"failed to get bootstrap configuration for given external key\"}\n"
   },
   {
    "case": "no-authorization",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3A00%3A12",
    "status": 403,
    "headers": {
     "content-type": "application/json",
     "content-length": "52",
     "connection": "close"
    },
    "bodyText": "{\"error\":\"missing or invalid credentials provided\"}\n"
   },
   {
    "case": "other-scheme(Bearer)",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3A00%3A12",
    "status": 404,
    "headers": {
     "content-type": "application/json",
     "content-length": "83",
     "connection": "close"
    },
    "authorizationSent": "Bearer 000102030405060708090a0b0c0d0e0f6146ebed9795f99564e264",
    "bodyText": "{\"error\":\"failed to get bootstrap configuration for given encrypted external key\"}\n"
   },
   {
    "case": "secure-not-hex",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3A00%3A12",
    "status": 404,
    "headers": {
     "content-type": "application/json",
     "content-length": "83",
     "connection": "close"
    },
    "authorizationSent": "zz-not-hex",
    "bodyText": "{\"error\":\"failed to get bootstrap configuration for given encrypted external key\"}\n"
   }
  ]
 },
 {
  "file": "012-raw-secure-nocert",
  "service": "Mainflux 0.12.1",
  "commit": "9ce31b65a639c88acd3b5095d0bf500130f82c67",
  "deviceConfig": {
   "generation": "raw",
   "externalId": "02:00:00:00:01:12",
   "externalKey": "ext-key-012-nocert",
   "secure": {
    "key": "a0b1c2d3e4f5061728394a5b6c7d8e9f"
   }
  },
  "exchanges": [
   {
    "case": "ok",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3A01%3A12",
    "status": 200,
    "headers": {
     "content-type": "application/json",
     "content-length": "422",
     "connection": "close"
    },
    "authorizationSent": "000102030405060708090a0b0c0d0e0f6146ebed9795f99564e2640f7b4e4ede77d9",
    "bodyHex": "282d6d436dfbcb27c048473a4a8fd982cdde659d97a5090dfa4afdd0ffdc4c72030464d248372c7b9a135806b1682ee6540a7a7e75b08d6b6b000ae296690e378e15fba21057711fc4b73b7903a3c0e50122ec0c15428307caa861a3136a8ae7aacb5e203ede0ba63b60c142c60a8a567483e610540d492abc71725f0b79f3f14b888feb2309d01650b57b52aca1404942c9b61869ff276ff751c7cbb4d50aa47d4c326deb7bb10f9322ae6bc1879a1f65cfc77c19cab58fdb09d2e07b35f58a1a287219e8e5bf39a46faa72377937e6b705c0d4785dc537db1a783d46496365ade3c43857666ed04bd066cca614b928e7f075f7512c270408ae02fc3afa4483f8b4889422fd855d1240ad4131c7a4deb9c52c5c6c0da0903e237cfe053849c0cce38d44c04990562a6e090dca377c2ff7973be14bbc2c63409278b60935a73195f86111a48b136416c21176b1a5cd6ec9fa4c6b526afa03d355d94c5ef3ec047d2bdcfe84507cb00d83f31337918295263538014c1fc00ea3b3c5a4e9eee428458d5d862884b12e78ceeea762b1266545228247e6a955ab42eb0a2b0cbf23a89baae0f6e08e",
    "decrypted": "{\"mainflux_id\":\"645d4d3e-8c50-4082-b69b-2632d2527543\",\"mainflux_key\":\"6259658f-cf2a-41b1-a5ea-1afb84999bfe\",\"mainflux_channels\":[{\"id\":\"2bc352f3-e662-4b1c-8130-897c4d5b9752\",\"name\":\"data\",\"metadata\":{\"type\":\"data\"}},{\"id\":\"8269d2df-6189-493a-be5c-e54bba125509\",\"name\":\"control\",\"metadata\":{\"type\":\"control\"}}],\"content\":\"{\\\"broker_url\\\": \\\"mqtts://broker.example:8883\\\", \\\"note\\\": \\\"from real mainflux\\\"}\"}"
   },
   {
    "case": "unknown-id",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3AFF%3AFF",
    "status": 404,
    "headers": {
     "content-type": "application/json",
     "content-length": "51",
     "connection": "close"
    },
    "authorizationSent": "000102030405060708090a0b0c0d0e0f6146ebed9795f99564e2640f7b4e4ede77d9",
    "bodyText": "{\"error\":\"failed to read bootstrap configuration\"}\n"
   },
   {
    "case": "wrong-key",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3A01%3A12",
    "status": 404,
    "headers": {
     "content-type": "application/json",
     "content-length": "73",
     "connection": "close"
    },
    "authorizationSent": "000102030405060708090a0b0c0d0e0f6513e8b2939ee7953fb62f",
    "bodyText": "{\"error\":\"failed to get bootstrap configuration for given external key\"}\n"
   },
   {
    "case": "no-authorization",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3A01%3A12",
    "status": 403,
    "headers": {
     "content-type": "application/json",
     "content-length": "52",
     "connection": "close"
    },
    "bodyText": "{\"error\":\"missing or invalid credentials provided\"}\n"
   },
   {
    "case": "other-scheme(Bearer)",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3A01%3A12",
    "status": 404,
    "headers": {
     "content-type": "application/json",
     "content-length": "83",
     "connection": "close"
    },
    "authorizationSent": "Bearer 000102030405060708090a0b0c0d0e0f6146ebed9795f99564e2640f7b4e4ede77d9",
    "bodyText": "{\"error\":\"failed to get bootstrap configuration for given encrypted external key\"}\n"
   },
   {
    "case": "secure-not-hex",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3A01%3A12",
    "status": 404,
    "headers": {
     "content-type": "application/json",
     "content-length": "83",
     "connection": "close"
    },
    "authorizationSent": "zz-not-hex",
    "bodyText": "{\"error\":\"failed to get bootstrap configuration for given encrypted external key\"}\n"
   }
  ]
 },
 {
  "file": "013-thing-plain-all",
  "service": "Mainflux 0.13.0",
  "commit": "92d8fb99bf82d31d6ca85e0a47d9c5a908d76911",
  "deviceConfig": {
   "generation": "thing",
   "externalId": "02:00:00:00:00:13",
   "externalKey": "ext-key-013"
  },
  "exchanges": [
   {
    "case": "ok",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A00%3A13",
    "status": 200,
    "headers": {
     "content-type": "application/json",
     "connection": "close",
     "transfer-encoding": "chunked"
    },
    "authorizationSent": "Thing ext-key-013",
    "bodyText": "{\"mainflux_id\":\"f56e1194-4c86-4f5d-80ff-187d5124d6b5\",\"mainflux_key\":\"60596dc4-7f61-4a8d-8849-a7dd32a2bf58\",\"mainflux_channels\":[{\"id\":\"83fadfaa-2de1-494d-bf70-9f31ead09619\",\"name\":\"data\",\"metadata\":{\"type\":\"data\"}},{\"id\":\"924bc8cd-c4d1-46a8-b823-bb481997f154\",\"name\":\"control\",\"metadata\":{\"type\":\"control\"}}],\"content\":\"{\\\"broker_url\\\": \\\"mqtts://broker.example:8883\\\", \\\"note\\\": \\\"from real mainflux\\\"}\",\"client_cert\":\"-----BEGIN CERTIFICATE-----\\nMIICsjCCAZoCFHmJudAdh6/pPWA+nvLT5sTwmKb0MA0GCSqGSIb3DQEBCwUAMBgx\\nFjAUBgNVBAMMDW1mLWludGVyb3AtY2EwHhcNMjYxMjA0MjMyMTUwWhcNMjcwMTAz\\nMjMyMTUwWjATMREwDwYDVQQDDAhkZXZpY2UtMTCCASIwDQYJKoZIhvcNAQEBBQAD\\nggEPADCCAQoCggEBAMGOeHXWgeDA3tiAODWhXCxrTY0mHiF4869hP3lIBhzU9PYg\\n2o549d4otMfQHz3LT25/tg+IMcXevY2hEI7n6EaGKbVRk40maKI5eVlFo7Xgt4O1\\nNbyHF0lzJ6mP4vBXTAZiQOxrhsT1R/LUQWGiCmx6oPYVcBmCQGG0Wk1zwAff5H7+\\nCRok/GR07OPLo8+7V5kDN+KC2BXvmBB87dsdNz3X0ZgQteAGLttM2w0TrfaDZZg1\\nvBcNkwU33rH/o/LHfdppssnXGQP9UMQ8UY0kbdZEmK9EgG/XRKy8rYQXZzE+j58a\\nr4pmpqOEnMMiwqi9UZp2//meduZtta+soxlcmZsCAwEAATANBgkqhkiG9w0BAQsF\\nAAOCAQEAPdHDMdsVaI8wol0kuMj73aJtDviLTqJVf+2VF3LS3EXhrhNQzXB5q0E3\\nYxlmVYIpDeTdDObUc08ywdygpmScV/P1t/xL5MCpPQ5mRdlqKReW8+O8qqaucGu7\\nW17xNPdIvwJkC7h9X0K5+c0T8GKU9qANNE0yBW/ZsYVw31XOsCMRnARZPmEuZZbI\\nhLl4mh9RJ8bhubiTimYYJi/wc2QJSnWBLqmhWybTqxxODhwPG5t1k41npRSobLns\\nZb8hL+hu7Mzm56ztg648TbORprR2oTnuYP3huDd7YNITZ+DgRWkMQZlZspPTzKyA\\nrcHpfqD377O0lm4G3AGK8szwRdbB0w==\\n-----END CERTIFICATE-----\\n\",\"client_key\":\"-----BEGIN PRIVATE KEY-----\\nMIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQDBjnh11oHgwN7Y\\ngDg1oVwsa02NJh4hePOvYT95SAYc1PT2INqOePXeKLTH0B89y09uf7YPiDHF3r2N\\noRCO5+hGhim1UZONJmiiOXlZRaO14LeDtTW8hxdJcyepj+LwV0wGYkDsa4bE9Ufy\\n1EFhogpseqD2FXAZgkBhtFpNc8AH3+R+/gkaJPxkdOzjy6PPu1eZAzfigtgV75gQ\\nfO3bHTc919GYELXgBi7bTNsNE632g2WYNbwXDZMFN96x/6Pyx33aabLJ1xkD/VDE\\nPFGNJG3WRJivRIBv10SsvK2EF2cxPo+fGq+KZqajhJzDIsKovVGadv/5nnbmbbWv\\nrKMZXJmbAgMBAAECggEAAnMosCkiZLNcPrZEv90GeyNyjFZOrFLJFs+uy3yvYx8I\\n6LKawZHjXsf6HctTEeeoXjgsmD67josWsBu5R23FAVuCXKKnMPKrAV6j3A7nFw68\\nk+SvxO6ay1mzR1CkaTFZq30D4FouDwEhw3+PQkqYQi49KlA0JoaBBRuQxwkvhYn4\\nyfKt5k1XjsnbYONI0LZS7kb10cIXGHX3CxaVZUK1z+7/R5s0VzjF5ey+xeBmnK87\\nsmDeJccYFiW6PCkIY8hBl4qRdXbwb8zLRspwQYqKZzC0A+wtFD3ynOAB4l9ipXFq\\ndwOyhgFpKq/0vjZxVfjTZI58oAOWpZ+5jhNtIY+DeQKBgQDj/TxlVayoNEqvHWYo\\nLwOvY07S3Yaj4W876HIW781HWbHTseo7fJFyI5Lkle1AI/NGHvj2xHleZoHSJjDK\\nmv2wayy2q8wQBUTUKoz0VyX0hXvpiAiWRztvC/DD6d6Rw8d38C09OmkDiKqIZAqd\\n28/+ofXFQ3+jjylDj1iAbp0RaQKBgQDZVkA4hyJr6Vz1LH/OpcREL5DfoN2yGy0I\\nCoeuYkCjTyTYhiyqtdKFQmgeFeGcPlGqAmYeKP64onjTBfBRm3w5NI0SU+2/KT0r\\naD1QkFP6jlIcXaV2TBd7QdvhdgfB4hqweLb2pc6sfMz8F77wDYhyfHoTNTSwF7s1\\ni0Vpf84uYwKBgQCkCsrREvMXWADAvUOK+EELikXl/VTqR8OUdGzayhKHGyeTbXle\\n8gNo/+WqqaG6u+NH+fMjAz1cyh7wyV/j998/d+4FRdmfUVsz2aXwDWCW7xC4eJPN\\nJVXDUfEb1gO6GAdG6j5yxrtWupgRaQImkUm4Kmq/VBDb659CKDsCthQ3uQKBgQCg\\nr3pP0OmMKz9FLZ9Y44pWd2x/SmpesmT62v4x2ga8N1mglKMVm9SIHe7ov3jMke7C\\n6X8isWCSld0K+AsT6wdPLCFY+aB/gzfsjec3V14fk3X17u7UpbF+udSdvyxBFrBw\\n5O8xMKm7MZJEmDHdPcQyEQIYjW/k+ca58bxiIdIIzQKBgQCOWx8dXKwHV7jW+XS6\\neA9422KRPFxOaofDR2nxl0TGBKByoALxVNwpdspO7ZPOZ5P5lwcMC1rxJPbhN+Xy\\nnmX9hlElfxDBEHbjzmQ7Bf93ir3+KMtMxmOzhYWkjaWcOFp4ODLnJWofpmYxgMBp\\nKPkM9C7LcUWrps9ylZl1Xq6kjg==\\n-----END PRIVATE KEY-----\\n\",\"ca_cert\":\"-----BEGIN CERTIFICATE-----\\nMIIDETCCAfmgAwIBAgIUbn4UakGjAIDJ+qbrJwGuX+Cihl8wDQYJKoZIhvcNAQEL\\nBQAwGDEWMBQGA1UEAwwNbWYtaW50ZXJvcC1jYTAeFw0yNjEyMDQyMzIxNTBaFw0y\\nNzAxMDMyMzIxNTBaMBgxFjAUBgNVBAMMDW1mLWludGVyb3AtY2EwggEiMA0GCSqG\\nSIb3DQEBAQUAA4IBDwAwggEKAoIBAQCnnstPKEt5Q4zH7+NnvHx23x+89N3OcODm\\nZLWWcIlcuxFxudspmIaBplyD0TvjgW0NA/gzwkZyHlKb5nKPfq4+zWlGy8mJM493\\nbhgtIbgoCkWCYr1lC8z9nzOo3xm5slhI75R8baL+R9+cmTEsO9ulSE5X/iEcW5f+\\nw6RqNS2ivVcCDmoVbeKpCgMSLWKhOQXARrYHR4TtYDJ7b0+yOlopN2DUVtWqPwiG\\ntGhhgR/hrGZWqwjszk4X3aZKWdNZ+kR1uuRaYvv4mcXgEpXIZx91BS0imvCLutwF\\nxEmQY7YZyiFOZr0waPaa/0izCGzZztKW1ewz5BtmrYfEdAenkGbtAgMBAAGjUzBR\\nMB0GA1UdDgQWBBRGj7FerFGLmsSgMaL8DWl3dUqDZTAfBgNVHSMEGDAWgBRGj7Fe\\nrFGLmsSgMaL8DWl3dUqDZTAPBgNVHRMBAf8EBTADAQH/MA0GCSqGSIb3DQEBCwUA\\nA4IBAQAeGuEjRl2T9uVZczELLnUT59sGbTAkUe+TFEREKtVLCWb4k8qJxS80M9t5\\nQnu8Xsft6En//rAYc4mvQjc4snQ22SSDXeM+cyng+qjjuO7lwbYLofXJ4qmfamII\\nVQ5Rf2cEo+suyUD5a30lVYfRb834D26M8Pn1evZkyXSnYX0Vf7tfQFvuHlI2nAEf\\nB5EfIjZMdjMJbD0udCw5FmSpaioH+UxWmAaqhWLTyu582614Cr9vy1YibD5IlLg3\\nisDOrhOro5rlYMQRAKs1nxn7L/zhWs5ypl2v7qOG3FU04xwQg1MdXoJC7GDFcEnE\\n/zaE8yheIbXaLgcjQWkGdMkvpg5D\\n-----END CERTIFICATE-----\\n\"}\n"
   },
   {
    "case": "unknown-id",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3AFF%3AFF",
    "status": 404,
    "headers": {
     "content-length": "51",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Thing ext-key-013",
    "bodyText": "{\"error\":\"failed to read bootstrap configuration\"}\n"
   },
   {
    "case": "wrong-key",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A00%3A13",
    "status": 403,
    "headers": {
     "content-length": "73",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Thing a-wrong-key",
    "bodyText": "{\"error\":\"failed to get bootstrap configuration for given external key\"}\n"
   },
   {
    "case": "no-authorization",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A00%3A13",
    "status": 401,
    "headers": {
     "content-length": "49",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "bodyText": "{\"error\":\"missing or invalid bearer entity key\"}\n"
   },
   {
    "case": "other-scheme(Bearer)",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A00%3A13",
    "status": 401,
    "headers": {
     "content-length": "49",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Bearer ext-key-013",
    "bodyText": "{\"error\":\"missing or invalid bearer entity key\"}\n"
   }
  ]
 },
 {
  "file": "013-thing-plain-ca",
  "service": "Mainflux 0.13.0",
  "commit": "92d8fb99bf82d31d6ca85e0a47d9c5a908d76911",
  "deviceConfig": {
   "generation": "thing",
   "externalId": "02:00:00:00:02:13",
   "externalKey": "ext-key-013-ca"
  },
  "exchanges": [
   {
    "case": "ok",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A02%3A13",
    "status": 200,
    "headers": {
     "content-type": "application/json",
     "content-length": "1562",
     "connection": "close"
    },
    "authorizationSent": "Thing ext-key-013-ca",
    "bodyText": "{\"mainflux_id\":\"99461113-b085-4f72-a5cb-48d5150e189d\",\"mainflux_key\":\"a632cf00-6728-4678-bf24-1b3ddeb84a87\",\"mainflux_channels\":[{\"id\":\"0582eb55-55bf-4b20-a31c-7253295d83e6\",\"name\":\"data\",\"metadata\":{\"type\":\"data\"}},{\"id\":\"a4c6f382-15d8-4052-ac8d-8ec60696c28f\",\"name\":\"control\",\"metadata\":{\"type\":\"control\"}}],\"content\":\"{\\\"broker_url\\\": \\\"mqtts://broker.example:8883\\\", \\\"note\\\": \\\"from real mainflux\\\"}\",\"ca_cert\":\"-----BEGIN CERTIFICATE-----\\nMIIDETCCAfmgAwIBAgIUbn4UakGjAIDJ+qbrJwGuX+Cihl8wDQYJKoZIhvcNAQEL\\nBQAwGDEWMBQGA1UEAwwNbWYtaW50ZXJvcC1jYTAeFw0yNjEyMDQyMzIxNTBaFw0y\\nNzAxMDMyMzIxNTBaMBgxFjAUBgNVBAMMDW1mLWludGVyb3AtY2EwggEiMA0GCSqG\\nSIb3DQEBAQUAA4IBDwAwggEKAoIBAQCnnstPKEt5Q4zH7+NnvHx23x+89N3OcODm\\nZLWWcIlcuxFxudspmIaBplyD0TvjgW0NA/gzwkZyHlKb5nKPfq4+zWlGy8mJM493\\nbhgtIbgoCkWCYr1lC8z9nzOo3xm5slhI75R8baL+R9+cmTEsO9ulSE5X/iEcW5f+\\nw6RqNS2ivVcCDmoVbeKpCgMSLWKhOQXARrYHR4TtYDJ7b0+yOlopN2DUVtWqPwiG\\ntGhhgR/hrGZWqwjszk4X3aZKWdNZ+kR1uuRaYvv4mcXgEpXIZx91BS0imvCLutwF\\nxEmQY7YZyiFOZr0waPaa/0izCGzZztKW1ewz5BtmrYfEdAenkGbtAgMBAAGjUzBR\\nMB0GA1UdDgQWBBRGj7FerFGLmsSgMaL8DWl3dUqDZTAfBgNVHSMEGDAWgBRGj7Fe\\nrFGLmsSgMaL8DWl3dUqDZTAPBgNVHRMBAf8EBTADAQH/MA0GCSqGSIb3DQEBCwUA\\nA4IBAQAeGuEjRl2T9uVZczELLnUT59sGbTAkUe+TFEREKtVLCWb4k8qJxS80M9t5\\nQnu8Xsft6En//rAYc4mvQjc4snQ22SSDXeM+cyng+qjjuO7lwbYLofXJ4qmfamII\\nVQ5Rf2cEo+suyUD5a30lVYfRb834D26M8Pn1evZkyXSnYX0Vf7tfQFvuHlI2nAEf\\nB5EfIjZMdjMJbD0udCw5FmSpaioH+UxWmAaqhWLTyu582614Cr9vy1YibD5IlLg3\\nisDOrhOro5rlYMQRAKs1nxn7L/zhWs5ypl2v7qOG3FU04xwQg1MdXoJC7GDFcEnE\\n/zaE8yheIbXaLgcjQWkGdMkvpg5D\\n-----END CERTIFICATE-----\\n\"}\n"
   },
   {
    "case": "unknown-id",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3AFF%3AFF",
    "status": 404,
    "headers": {
     "content-length": "51",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Thing ext-key-013-ca",
    "bodyText": "{\"error\":\"failed to read bootstrap configuration\"}\n"
   },
   {
    "case": "wrong-key",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A02%3A13",
    "status": 403,
    "headers": {
     "content-length": "73",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Thing a-wrong-key",
    "bodyText": "{\"error\":\"failed to get bootstrap configuration for given external key\"}\n"
   },
   {
    "case": "no-authorization",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A02%3A13",
    "status": 401,
    "headers": {
     "content-length": "49",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "bodyText": "{\"error\":\"missing or invalid bearer entity key\"}\n"
   },
   {
    "case": "other-scheme(Bearer)",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A02%3A13",
    "status": 401,
    "headers": {
     "content-length": "49",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Bearer ext-key-013-ca",
    "bodyText": "{\"error\":\"missing or invalid bearer entity key\"}\n"
   }
  ]
 },
 {
  "file": "013-thing-plain-nocert",
  "service": "Mainflux 0.13.0",
  "commit": "92d8fb99bf82d31d6ca85e0a47d9c5a908d76911",
  "deviceConfig": {
   "generation": "thing",
   "externalId": "02:00:00:00:01:13",
   "externalKey": "ext-key-013-nocert"
  },
  "exchanges": [
   {
    "case": "ok",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A01%3A13",
    "status": 200,
    "headers": {
     "content-type": "application/json",
     "content-length": "407",
     "connection": "close"
    },
    "authorizationSent": "Thing ext-key-013-nocert",
    "bodyText": "{\"mainflux_id\":\"a2c8b7e5-d842-4ef8-83ed-10a4de88afec\",\"mainflux_key\":\"2e5ca278-a37e-4051-98f2-e4db16031dfd\",\"mainflux_channels\":[{\"id\":\"eb449ed7-063b-4bd6-9c3e-a62cd3d88b0e\",\"name\":\"data\",\"metadata\":{\"type\":\"data\"}},{\"id\":\"78182df8-dab9-4296-b535-51d8eaa1ebe3\",\"name\":\"control\",\"metadata\":{\"type\":\"control\"}}],\"content\":\"{\\\"broker_url\\\": \\\"mqtts://broker.example:8883\\\", \\\"note\\\": \\\"from real mainflux\\\"}\"}\n"
   },
   {
    "case": "unknown-id",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3AFF%3AFF",
    "status": 404,
    "headers": {
     "content-length": "51",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Thing ext-key-013-nocert",
    "bodyText": "{\"error\":\"failed to read bootstrap configuration\"}\n"
   },
   {
    "case": "wrong-key",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A01%3A13",
    "status": 403,
    "headers": {
     "content-length": "73",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Thing a-wrong-key",
    "bodyText": "{\"error\":\"failed to get bootstrap configuration for given external key\"}\n"
   },
   {
    "case": "no-authorization",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A01%3A13",
    "status": 401,
    "headers": {
     "content-length": "49",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "bodyText": "{\"error\":\"missing or invalid bearer entity key\"}\n"
   },
   {
    "case": "other-scheme(Bearer)",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A01%3A13",
    "status": 401,
    "headers": {
     "content-length": "49",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Bearer ext-key-013-nocert",
    "bodyText": "{\"error\":\"missing or invalid bearer entity key\"}\n"
   }
  ]
 },
 {
  "file": "013-thing-secure-all",
  "service": "Mainflux 0.13.0",
  "commit": "92d8fb99bf82d31d6ca85e0a47d9c5a908d76911",
  "deviceConfig": {
   "generation": "thing",
   "externalId": "02:00:00:00:00:13",
   "externalKey": "ext-key-013",
   "secure": {
    "key": "00112233445566778899aabbccddeeff0123456789abcdef0123456789abcdef"
   }
  },
  "exchanges": [
   {
    "case": "ok",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3A00%3A13",
    "status": 200,
    "headers": {
     "content-type": "application/json",
     "connection": "close",
     "transfer-encoding": "chunked"
    },
    "authorizationSent": "Thing 000102030405060708090a0b0c0d0e0f7f93adb25217c26b346ebe",
    "bodyHex": "5cc428f2f4220e0b5fd44c473f9d20d438d116c185f2a066f2b4bede736e1284c242deb706ffe2b9d0454c7bae0bd1393078b2e825d64f9429fbdc9f2287508af91eb0c25cdf9446d3d0e65582e9fd6e20e678757f2acf02ac205677aaa623872b33781837d385380f5255ff9dc26824eb45d40c57d87def4e60a5aa82a16f83025edcc95de102947fc7390e23fae900decb7409c98c78c35b2a86e6737cb46f04fd2d3f4dfcd06bdc008676db1d3c9c6875b9e04f2775cf3f14d7848b2dc2b836a9213a8d9419a97835d0cdb40769ccbac305f80d9b6d8a70e2e8bfc4c2b71933657a66a410d73a27c86d60a3ab23eefd4b7081b693c2225df9c2c434019602a3fe283e3875f6308ac8a9eb2eef14f46a66293a89db5d4c36602137c6f04d18beff3aada27f10f5c7d656c4727e71f6343eb4957fe6f1ff44466f21eaa36daabef9215b3d8021828b31dbb359762b1508bdbc9706be047f40f9fa1e24c706366757a43207b9758864a3696742d1fd5517c03838e9d6ae0ae16fd610f1ebd00c454c4add70ed487da0558a41f9e4902e1a6bd07ffb69c35cc97f0c901b0d97c24c4a763c1fa0292036be9a8f72f50d9ee9ec76ce4267b765a448a506aa8cf9f4d3322737dba5d9ddb56f4f3e60484df7d6a83721d250f76a151e357de9a033402d2224c85d3ed50e1e13382faa368c6aaf8fb49beadb6b41ac0947bb8205f0bb9b1adf09ff2cf1cd8b6bb795531426d256fce42297802905bd0f04f8452a37b687f44b8b5935c95cf00cb0f0523d7ae4d1c050b577c9ecb8bdd4cc8aefd56991d4245fdc4a054922e6ceb08c429eb8a3b4ea99d934a8127081e0f88f5ad00e92f28017c27402208a2db7a7f2e8e998317ae478f001de33c5ee045614f12f7a7e31907e9a19125b4428e562032baf51fac0efa508b1a2e55fb372a326d792a4812e311cce05fce389949ba864889416571b13512807ce617139b8315cb6954b3d9a6e8addd4ad097f304d9cb90f40d6dddd5a767c14f837a5d0a200c4d136adc6fd1f31d3c8a5367b8ee2f3b7d5f286f420e73ea82f972cec6f7e1300e82ea476df2ba25b548e276f2b6e09b80d5f0fcbbf3ad997feac15aeb49a807f2d41cbaea42dbd81dbe79ee7b637f3a5722827a9a4f3baa0606b242d8ded9591d1281c5bc93ef72be3f78380a8034eca45e72576156d847e5717dd3ccd45321db050a1bf00d7f392fe29633dc979894ad84beeaf9887f483b5b411d0671fdaf75dd9200d60670204089a207fa667cf69ac69162304477d1959443562f25ffd8f185aa30255e170e539e863f10eb5b5f285eb49b6150f7148030d7564071b1ce4a36cbb02cdf206a5cbb136027dab56fa25c983a3f79b1012ba71bc8750f5ac74e951dc6a06f6476201fb865dff7d96d53026c68c184c1e6a257645474f1f05f7850ecee8d01b51ac96a8906fe5008b1dce3868e9d8473aa689a9cfdd97e01d187a7f8f0b9495c1a500489d0833e8aa4fac34ef752077157c1c500ea70f17e8719e81d97dbc4da1b1ff4e752142d14f80f2d6c1fbee05cb036c9b49daa47020c6463cc846b98a91f8d78a8b8afd34d5d66dfd18e94dda6abe17a5128555ddd7b8c1e9084929ac4868bfbfc0071a0df9bc62f409b835b1a9b36a4f0b90a57e3111b540d6e4f6056f2e821b84318c2a00323341833a653ece1d2579ac76f65750b8b809566d4e0a6497a4f97c67d7fd4b1c921e333601d4c49602f2d5d66e3fb9b616ae4ea3a6fe656096c464ea0af51c3ab0a641c34cccb709a9f455cd944eb59400d70bdf7fbfa8b39499f451cb30acae4d0c067565d2324a9e510b92f7443875a0a79c174b1b7ec7d5a3f33dc87e8072bceafa904ad8bf31cab25bddcc38d218635e6a17a0eb3d69b422f4397bb6839a77c5deb12d783b50ac2edc6def01e1feabe545f82471cc0e5162d96e18f33f74b4f9c243664c5515a1b9500582bfdc01336f47d34081b41159b7744946b01bf0a9d45fe694de3936e830f0d9565e85ce95a67b05bb02f149877425dc2a34a9c849c01251a39f71ca99ea64021be230fb8d4a4c4c96d49e96f357c5fc4219816d4f7e6de13632b9e379906c91bb9785959105c2b77380e6d8ddc9f62b0ad1a5aeb6d15d1da2137eefb01c6f6408230b6a218204df861e3e958f38bff8b315114360c5ada447b9b9322e01380fcc1df21cc81bfa33ced2723284cef856609e88d543699dc37e0ff224f405eca4dfedc4de447e4ca17bffe60237f00654cbc693d2f078f7aa7980e3febabead6aeb872254d085eec5902f5506d8d875dd31eaaef79ad57f985195aafe3983c3d1e9048bc5b0dc186095f69dc87bdefa794f9d257bce3e7ca0dc6c2413af5bb3d045a3ab4373e8cd73cd8b1c1d5206a943be245a6c8de6b9f092ba50ab7aa9e0d813bd73242022e6315ba8c6493be95e0b7c1b3dc0ea41c33f40eb8c577114c0ace8149df4624e7723ccad2f4856b7d21660c03061c21d9fb0a21750dbca0b1c367f00dd854d9204bc6f6b4a71b44658d8983771afd70c9bfe870a32938f9e2c234d151d2466855ccd59cb2146e492f37eb53ffbdef9c3c728b02d2081f58fda6e9c4423f6e9bc1c9f186e3c9d9facffe91f88be0e12a624f2d0c79368e7ec03cd513234b2b8e49167b6ef2f49a011b0fa5c7e2c0a6b690c5cf3876170b7f138ddee265170b570e147e84ecd3cb98662023539b2e7da502673e658580666e93fe4a1b544b1c5f96b4844d545189e0e8bd62f8cac9d88e50829af8a7e9b54c60d7188d3f59b33571134c821456b422ca5df86e29f554285a69d83d030223d48bfc1d66e62223cdacff8952d68bfcc6903a3ab21f8a965e15f7ec3e852128aefd84d5ea474183c021c61af70e3ecd8bc5cb4d43e0153744a6eb46c91f26f6c698458e822381c269decfce736465d6434a879f389186a6a5650c9b6283735d07ddeda1b8852630a2e5345fb7f0bcde7c1ad1772f6b9373a70b259fa6a99c0094486ab13746469960a748ecf2c3b463ef97d1f6963cde5118b760d83c8988bd8d3ff068138dc572e5a3d5a5b35f4dafebabec7425f974eb1fcbdcd0b28b909bd338a62f4dc5e0dbe5da6f8ff0458c89085bd9b22ccdd6945c40b87601f20bd6ee081a894376fb0f81de6afb32734afefacd6fcc4d172bf996a3828620b43878e95c7aba07d16acaa8fd11389d72f33e09b21e1a919a0a71322d2b92d49ac156fbec1f0faf204844f232fa23b3ebe0f8cb41268129ccab8dc0a6a37ffad03c6be961deca25a029c13f35258f0abafc495c1f6e7685989209da155a1949dfcce69d2e81d6a4b5886aae3f371bc98f387a1e1a8dd51c28e1970be4a8144b7263064ea10c43f2d56d5fd44c3b51b4128fbbb23ac43bdf794ae43b7b26529d72dd0394d63328a44d1352ca1c44fedaf1d236586943fa5d80d517269b930ea687ee27ba08ba920607924755e7ae025c5e02ea212fd16cf0c6892052da9d07c1eca7ccc0a133d17d1922766b58349bdebb309487edcda8c92030244078ad34b0c79af5b0ef880b68b49aefa6233666d7118f027fd049d9577a8d657f1bf836b3deeb862a1dd124c02692c94e85dbcfa0a9607fbb0c2dcab9c71b092ddb16ac56c0d9eefa77ed4aad7be60449f304be678c4d929a38145e16361df8dbdd2071af37d9c8f1123e3d78c47a19e0fa9fbbf7a703be06bb528c91368334e26a44c551e3633c191a9a152197cc6f58712851349c971f71b017160729b7835f6eab2142e3827031cc37566e17c901ff111db7633e338a0cabf4b02f34f4ceeaac691bbd8117dbef1699275c8461a3fff72690f6d1a96ea4cda21407dadc34e05cdb73f59e0d405e2c5ca6d490e47219024dfd99234a3bf5738da4fafaac06093fb0cde22754e48ff14e1c96ba8ec8312de68c55d8a220b50c3bdbea6c74094abfc6e886702008e425be953428fb9fa96296e1055f67748fdcbc495fb6d9faddda9cb63f468778a4e38b349130aa18c2f9001908b530f9b4a2f79b3c99e0d3da9d14aad6f3ae24ff46bdc8500507250f4f3b8cc4eaa8cf8d8162e6e30a381051c207a799f3aca4497276825dbd211827c631b1435f515523c565bd9080bee0dc14b24552e241c96c7fe27e39f6ad73f2eae3bc84ddbbe6ef7eca448377b61ad9f236100f4a76317811ca4df5d9200102f3b8d89adc4725dee4d09bdd0fb670191399088b6824fb8378a9cb990318586eca74ee46f167318d7fa95f86f2efd1ef72eaf67ffea160aee6c3e7ed449df68c5b804a4778edae0de6944ceb6f92fd27316ee5f42724f68490579329cb9bb140f702b086c668a17a6a8611193c622cd37a50618d18ad35328fc986bc33a8058cedb59428fe4bbab0ddafea3d3f5a9bfb3ba5565bc5ef7fe3b46bf23af1b6adc464377473568ac780d6f3456338cb35c360be08121a829bb2f7a9c2afbde0e72888fd4f44bf1a7bcb1021b3603cae5bcf5e5e15814f1f3a30465eeb1196a77b0e2868519ff3aff17ced48ee621c33638af5f848df3e5403232cf4602355257930770de6a38e5bd70f071a353bdc354895c8ebcea19087d3da77f43ce6ff4fe82edd1e4b7d078a331f60b49ff089d7c208cc50a47eee868e74825d4305246e1515536b48ba64c68096c7e8f09d0b1758ad8e5fbd6f75de5b3186d5beccc65703896cb6944e0484c423b11758a276f0f5af235d50988650e5f79854f745d2ca679f6b95926e868adb39680721597a9b01b27b9542718eea40ec0ec439547029efaf3c975276a8b1f7630868434d701d08eba888689eb8b3ab4b3da1222056f3ad7fbb8bd51d5f6c152d19973a8dcdc1015e327e279c015014a71ecc1c1950b696f0381ad7c4d88c87e8e9f78b36c582f20dfda2e3fb3c1a6f448319b313c989f6b3d1d01dfaae16513cd42d3cb3f700f1821144081f64a932feddb24bf3915f9c7e81432ee5aed6b181cea1ea16211f6b643f087abe367e6c17eba1bc46f8eaa62475a126991910139f49f8c57571cd636a24977699b6fcbfc6dc532268b20bb0506bbe86c4dac32c5d0c612de728500fb93db45e83b77a073c6fce41a8d094cd6904d497d55a3cd33ef268070b958564afcc6eee9cc91afb3099ec08bb61927eb64268eece734f9a07a644823c9b97cc3c51dad1661e6d20dbe716f3ed6b486cc493c31409cea08d7ad2ff09a24f4487322503a25db4ece6aa97562c81c35da1838ebf0ba41cc0db48823c0b009068e5f39d0beb3b6dcf3a5f3ea5a28fec9a5c6c8c0e243bd542464ab4f02766c31f13758936fa3ce58ce5477de8a760c0cc8412a3dec719f101a76d70a7421288a1c0a9b76468382c3319d6a60f9d660ff3fb5d0d08404444c4a5dc82bbac96e107e46f1854578a77ecc1fd93a8fc3210716443de68798b7999b4c427b1e1cf6246dc6cf483637f2dea76e2e87b015d6e8956c502ac041325b2f26cc660829a366d15da66d2e0600c83b242fc622dc829ef438e80e49c8a30fe706373aca241423bfeee8bcf5249f73cea03c9d379af6cab69ff569d3566543065245f5e967993000821d98c7d8f2fe9d396dae1754b1555125e3b8facf88d995d3193c0621e36417a3d2b5bf47e7fc58fbca668a7d563e2c41cf805c2004e5aa3a161c0b5e5670f17f41fb94c737c90b376ee973361e9e71870f199228aef1da3716fc50643d6ee410571719d39addcc92a150b172701e522d1de44b01c83c1ad8262be250aa8545d23797979e17382da4d9eb5d3d8127e201e83d70fdbafcc9ee2952fb246f105cef5729c2ed37c2ccaa31c891ef95363730a3da854ce3cc1295c89c776d1076e57f62b34dec37b38015e6c6d2480eae1f395ce8d8899d7a702523a21823605e7478661eb23c60b6e89f1986debb382edf9ed76049eb5df77494c29d529f0a74029f80ac2fafe03cd86aa608366135d1f1e24bcb7a24abd1b54fb57c4fa55e8442ff08136c251dc30f3c849c651f7338e25025d073db9c32391fefc888906931e37cdd6bc44b596b03ea9aa60c6bcfc52714e5e1b3d8955eb8bd9c30207bfc6a13664e7f9cc38e4ff3c1eea52cc03709305689a4138006b956f865e499a8960e5999193e8e6d44cbb48ec183bdc66ef61bb2030f22b6df05e2350cc50f",
    "decrypted": "{\"mainflux_id\":\"f56e1194-4c86-4f5d-80ff-187d5124d6b5\",\"mainflux_key\":\"60596dc4-7f61-4a8d-8849-a7dd32a2bf58\",\"mainflux_channels\":[{\"id\":\"83fadfaa-2de1-494d-bf70-9f31ead09619\",\"name\":\"data\",\"metadata\":{\"type\":\"data\"}},{\"id\":\"924bc8cd-c4d1-46a8-b823-bb481997f154\",\"name\":\"control\",\"metadata\":{\"type\":\"control\"}}],\"content\":\"{\\\"broker_url\\\": \\\"mqtts://broker.example:8883\\\", \\\"note\\\": \\\"from real mainflux\\\"}\",\"client_cert\":\"-----BEGIN CERTIFICATE-----\\nMIICsjCCAZoCFHmJudAdh6/pPWA+nvLT5sTwmKb0MA0GCSqGSIb3DQEBCwUAMBgx\\nFjAUBgNVBAMMDW1mLWludGVyb3AtY2EwHhcNMjYxMjA0MjMyMTUwWhcNMjcwMTAz\\nMjMyMTUwWjATMREwDwYDVQQDDAhkZXZpY2UtMTCCASIwDQYJKoZIhvcNAQEBBQAD\\nggEPADCCAQoCggEBAMGOeHXWgeDA3tiAODWhXCxrTY0mHiF4869hP3lIBhzU9PYg\\n2o549d4otMfQHz3LT25/tg+IMcXevY2hEI7n6EaGKbVRk40maKI5eVlFo7Xgt4O1\\nNbyHF0lzJ6mP4vBXTAZiQOxrhsT1R/LUQWGiCmx6oPYVcBmCQGG0Wk1zwAff5H7+\\nCRok/GR07OPLo8+7V5kDN+KC2BXvmBB87dsdNz3X0ZgQteAGLttM2w0TrfaDZZg1\\nvBcNkwU33rH/o/LHfdppssnXGQP9UMQ8UY0kbdZEmK9EgG/XRKy8rYQXZzE+j58a\\nr4pmpqOEnMMiwqi9UZp2//meduZtta+soxlcmZsCAwEAATANBgkqhkiG9w0BAQsF\\nAAOCAQEAPdHDMdsVaI8wol0kuMj73aJtDviLTqJVf+2VF3LS3EXhrhNQzXB5q0E3\\nYxlmVYIpDeTdDObUc08ywdygpmScV/P1t/xL5MCpPQ5mRdlqKReW8+O8qqaucGu7\\nW17xNPdIvwJkC7h9X0K5+c0T8GKU9qANNE0yBW/ZsYVw31XOsCMRnARZPmEuZZbI\\nhLl4mh9RJ8bhubiTimYYJi/wc2QJSnWBLqmhWybTqxxODhwPG5t1k41npRSobLns\\nZb8hL+hu7Mzm56ztg648TbORprR2oTnuYP3huDd7YNITZ+DgRWkMQZlZspPTzKyA\\nrcHpfqD377O0lm4G3AGK8szwRdbB0w==\\n-----END CERTIFICATE-----\\n\",\"client_key\":\"-----BEGIN PRIVATE KEY-----\\nMIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQDBjnh11oHgwN7Y\\ngDg1oVwsa02NJh4hePOvYT95SAYc1PT2INqOePXeKLTH0B89y09uf7YPiDHF3r2N\\noRCO5+hGhim1UZONJmiiOXlZRaO14LeDtTW8hxdJcyepj+LwV0wGYkDsa4bE9Ufy\\n1EFhogpseqD2FXAZgkBhtFpNc8AH3+R+/gkaJPxkdOzjy6PPu1eZAzfigtgV75gQ\\nfO3bHTc919GYELXgBi7bTNsNE632g2WYNbwXDZMFN96x/6Pyx33aabLJ1xkD/VDE\\nPFGNJG3WRJivRIBv10SsvK2EF2cxPo+fGq+KZqajhJzDIsKovVGadv/5nnbmbbWv\\nrKMZXJmbAgMBAAECggEAAnMosCkiZLNcPrZEv90GeyNyjFZOrFLJFs+uy3yvYx8I\\n6LKawZHjXsf6HctTEeeoXjgsmD67josWsBu5R23FAVuCXKKnMPKrAV6j3A7nFw68\\nk+SvxO6ay1mzR1CkaTFZq30D4FouDwEhw3+PQkqYQi49KlA0JoaBBRuQxwkvhYn4\\nyfKt5k1XjsnbYONI0LZS7kb10cIXGHX3CxaVZUK1z+7/R5s0VzjF5ey+xeBmnK87\\nsmDeJccYFiW6PCkIY8hBl4qRdXbwb8zLRspwQYqKZzC0A+wtFD3ynOAB4l9ipXFq\\ndwOyhgFpKq/0vjZxVfjTZI58oAOWpZ+5jhNtIY+DeQKBgQDj/TxlVayoNEqvHWYo\\nLwOvY07S3Yaj4W876HIW781HWbHTseo7fJFyI5Lkle1AI/NGHvj2xHleZoHSJjDK\\nmv2wayy2q8wQBUTUKoz0VyX0hXvpiAiWRztvC/DD6d6Rw8d38C09OmkDiKqIZAqd\\n28/+ofXFQ3+jjylDj1iAbp0RaQKBgQDZVkA4hyJr6Vz1LH/OpcREL5DfoN2yGy0I\\nCoeuYkCjTyTYhiyqtdKFQmgeFeGcPlGqAmYeKP64onjTBfBRm3w5NI0SU+2/KT0r\\naD1QkFP6jlIcXaV2TBd7QdvhdgfB4hqweLb2pc6sfMz8F77wDYhyfHoTNTSwF7s1\\ni0Vpf84uYwKBgQCkCsrREvMXWADAvUOK+EELikXl/VTqR8OUdGzayhKHGyeTbXle\\n8gNo/+WqqaG6u+NH+fMjAz1cyh7wyV/j998/d+4FRdmfUVsz2aXwDWCW7xC4eJPN\\nJVXDUfEb1gO6GAdG6j5yxrtWupgRaQImkUm4Kmq/VBDb659CKDsCthQ3uQKBgQCg\\nr3pP0OmMKz9FLZ9Y44pWd2x/SmpesmT62v4x2ga8N1mglKMVm9SIHe7ov3jMke7C\\n6X8isWCSld0K+AsT6wdPLCFY+aB/gzfsjec3V14fk3X17u7UpbF+udSdvyxBFrBw\\n5O8xMKm7MZJEmDHdPcQyEQIYjW/k+ca58bxiIdIIzQKBgQCOWx8dXKwHV7jW+XS6\\neA9422KRPFxOaofDR2nxl0TGBKByoALxVNwpdspO7ZPOZ5P5lwcMC1rxJPbhN+Xy\\nnmX9hlElfxDBEHbjzmQ7Bf93ir3+KMtMxmOzhYWkjaWcOFp4ODLnJWofpmYxgMBp\\nKPkM9C7LcUWrps9ylZl1Xq6kjg==\\n-----END PRIVATE KEY-----\\n\",\"ca_cert\":\"-----BEGIN CERTIFICATE-----\\nMIIDETCCAfmgAwIBAgIUbn4UakGjAIDJ+qbrJwGuX+Cihl8wDQYJKoZIhvcNAQEL\\nBQAwGDEWMBQGA1UEAwwNbWYtaW50ZXJvcC1jYTAeFw0yNjEyMDQyMzIxNTBaFw0y\\nNzAxMDMyMzIxNTBaMBgxFjAUBgNVBAMMDW1mLWludGVyb3AtY2EwggEiMA0GCSqG\\nSIb3DQEBAQUAA4IBDwAwggEKAoIBAQCnnstPKEt5Q4zH7+NnvHx23x+89N3OcODm\\nZLWWcIlcuxFxudspmIaBplyD0TvjgW0NA/gzwkZyHlKb5nKPfq4+zWlGy8mJM493\\nbhgtIbgoCkWCYr1lC8z9nzOo3xm5slhI75R8baL+R9+cmTEsO9ulSE5X/iEcW5f+\\nw6RqNS2ivVcCDmoVbeKpCgMSLWKhOQXARrYHR4TtYDJ7b0+yOlopN2DUVtWqPwiG\\ntGhhgR/hrGZWqwjszk4X3aZKWdNZ+kR1uuRaYvv4mcXgEpXIZx91BS0imvCLutwF\\nxEmQY7YZyiFOZr0waPaa/0izCGzZztKW1ewz5BtmrYfEdAenkGbtAgMBAAGjUzBR\\nMB0GA1UdDgQWBBRGj7FerFGLmsSgMaL8DWl3dUqDZTAfBgNVHSMEGDAWgBRGj7Fe\\nrFGLmsSgMaL8DWl3dUqDZTAPBgNVHRMBAf8EBTADAQH/MA0GCSqGSIb3DQEBCwUA\\nA4IBAQAeGuEjRl2T9uVZczELLnUT59sGbTAkUe+TFEREKtVLCWb4k8qJxS80M9t5\\nQnu8Xsft6En//rAYc4mvQjc4snQ22SSDXeM+cyng+qjjuO7lwbYLofXJ4qmfamII\\nVQ5Rf2cEo+suyUD5a30lVYfRb834D26M8Pn1evZkyXSnYX0Vf7tfQFvuHlI2nAEf\\nB5EfIjZMdjMJbD0udCw5FmSpaioH+UxWmAaqhWLTyu582614Cr9vy1YibD5IlLg3\\nisDOrhOro5rlYMQRAKs1nxn7L/zhWs5ypl2v7qOG3FU04xwQg1MdXoJC7GDFcEnE\\n/zaE8yheIbXaLgcjQWkGdMkvpg5D\\n-----END CERTIFICATE-----\\n\"}"
   },
   {
    "case": "unknown-id",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3AFF%3AFF",
    "status": 404,
    "headers": {
     "content-length": "51",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Thing 000102030405060708090a0b0c0d0e0f7f93adb25217c26b346ebe",
    "bodyText": "{\"error\":\"failed to read bootstrap configuration\"}\n"
   },
   {
    "case": "wrong-key",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3A00%3A13",
    "status": 403,
    "headers": {
     "content-length": "73",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Thing 000102030405060708090a0b0c0d0e0f7bc6aeed561cdc6b6f3af4",
    "bodyText": "{\"error\":\"failed to get bootstrap configuration for given external key\"}\n"
   },
   {
    "case": "no-authorization",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3A00%3A13",
    "status": 401,
    "headers": {
     "content-length": "49",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "bodyText": "{\"error\":\"missing or invalid bearer entity key\"}\n"
   },
   {
    "case": "other-scheme(Bearer)",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3A00%3A13",
    "status": 401,
    "headers": {
     "content-length": "49",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Bearer 000102030405060708090a0b0c0d0e0f7f93adb25217c26b346ebe",
    "bodyText": "{\"error\":\"missing or invalid bearer entity key\"}\n"
   },
   {
    "case": "secure-not-hex",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3A00%3A13",
    "status": 403,
    "headers": {
     "content-length": "83",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Thing zz-not-hex",
    "bodyText": "{\"error\":\"failed to get bootstrap configuration for given encrypted external key\"}\n"
   }
  ]
 },
 {
  "file": "013-thing-secure-nocert",
  "service": "Mainflux 0.13.0",
  "commit": "92d8fb99bf82d31d6ca85e0a47d9c5a908d76911",
  "deviceConfig": {
   "generation": "thing",
   "externalId": "02:00:00:00:01:13",
   "externalKey": "ext-key-013-nocert",
   "secure": {
    "key": "00112233445566778899aabbccddeeff0123456789abcdef0123456789abcdef"
   }
  },
  "exchanges": [
   {
    "case": "ok",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3A01%3A13",
    "status": 200,
    "headers": {
     "content-type": "application/json",
     "content-length": "422",
     "connection": "close"
    },
    "authorizationSent": "Thing 000102030405060708090a0b0c0d0e0f7f93adb25217c26b346ebec26fed092eb387",
    "bodyHex": "5ebefe8f058ca05e050c3257f117a10d2383741be7be1007f39937787c9f2500c6765dc6ba433e004183e1c8b58bcd39741cbca9f0dd6e097fd46ffe583b896c73681f783d711c6720f783b599505841964f079fb4df2d079e265f85e3a8c9e727002dab7ceefbef8e0b57057b50a3e7200eea9f451020ecdc5c034d70ac269b4e9e38abb9585d54dd843a961f45078c80d3833255ff33d5cdbcd2c1ef05afdc136423cc540d9c9d92db45c97d0385c038ec95b612ae29de67270eac254c6c86ceb8f32bf646f2ad6d37659f115ac6b40b229e1193a994cc02691ca95455482ef8a8d35d01e98f8854428bede38d4755f01fe8f5e58249fa743880baedff902c1fdbc2766c08a9887c694871af11d876f7f7eec0aa95f31bc136a68b746b7bfe6e24d90891f23fa65b859836d227ecd35d68ee9b6bb9045ca9de477b1871c0992a9b0661e37c37b14573795736a763fc738c2f8790b196aabee2e98fc5711cb0b67f5d158639e7065166e6f0120507450872dae92fa30aae3231a8e1096027590ceec025ceb7398eeb9a1175e608e11716ccf8f459cf1a0a10b5e88e6dcb67946172c9f25dcf",
    "decrypted": "{\"mainflux_id\":\"a2c8b7e5-d842-4ef8-83ed-10a4de88afec\",\"mainflux_key\":\"2e5ca278-a37e-4051-98f2-e4db16031dfd\",\"mainflux_channels\":[{\"id\":\"eb449ed7-063b-4bd6-9c3e-a62cd3d88b0e\",\"name\":\"data\",\"metadata\":{\"type\":\"data\"}},{\"id\":\"78182df8-dab9-4296-b535-51d8eaa1ebe3\",\"name\":\"control\",\"metadata\":{\"type\":\"control\"}}],\"content\":\"{\\\"broker_url\\\": \\\"mqtts://broker.example:8883\\\", \\\"note\\\": \\\"from real mainflux\\\"}\"}"
   },
   {
    "case": "unknown-id",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3AFF%3AFF",
    "status": 404,
    "headers": {
     "content-length": "51",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Thing 000102030405060708090a0b0c0d0e0f7f93adb25217c26b346ebec26fed092eb387",
    "bodyText": "{\"error\":\"failed to read bootstrap configuration\"}\n"
   },
   {
    "case": "wrong-key",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3A01%3A13",
    "status": 403,
    "headers": {
     "content-length": "73",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Thing 000102030405060708090a0b0c0d0e0f7bc6aeed561cdc6b6f3af4",
    "bodyText": "{\"error\":\"failed to get bootstrap configuration for given external key\"}\n"
   },
   {
    "case": "no-authorization",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3A01%3A13",
    "status": 401,
    "headers": {
     "content-length": "49",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "bodyText": "{\"error\":\"missing or invalid bearer entity key\"}\n"
   },
   {
    "case": "other-scheme(Bearer)",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3A01%3A13",
    "status": 401,
    "headers": {
     "content-length": "49",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Bearer 000102030405060708090a0b0c0d0e0f7f93adb25217c26b346ebec26fed092eb387",
    "bodyText": "{\"error\":\"missing or invalid bearer entity key\"}\n"
   },
   {
    "case": "secure-not-hex",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3A01%3A13",
    "status": 403,
    "headers": {
     "content-length": "83",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Thing zz-not-hex",
    "bodyText": "{\"error\":\"failed to get bootstrap configuration for given encrypted external key\"}\n"
   }
  ]
 },
 {
  "file": "0525-thing-plain-all",
  "service": "Mainflux master of 2023-08-22",
  "commit": "0525a9ab75952eca3de9eade842086a040d6e8b0",
  "deviceConfig": {
   "generation": "thing",
   "externalId": "02:00:00:00:00:25",
   "externalKey": "ext-key-0525"
  },
  "exchanges": [
   {
    "case": "ok",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A00%3A25",
    "status": 200,
    "headers": {
     "content-type": "application/json",
     "connection": "close",
     "transfer-encoding": "chunked"
    },
    "authorizationSent": "Thing ext-key-0525",
    "bodyText": "{\"thing_id\":\"4c2d7478-250c-40c5-9f21-e32fe233d08e\",\"thing_key\":\"2a9fd8ab-dc7d-4f38-9a52-3c5cb31a0793\",\"channels\":[{\"id\":\"97063d58-bafd-44d9-973c-2888a312cf14\",\"name\":\"data-ext-key-0525\",\"metadata\":{\"type\":\"data\"}},{\"id\":\"d085937d-f4e3-4c31-99cc-5369386b5b56\",\"name\":\"control-ext-key-0525\",\"metadata\":{\"type\":\"control\"}}],\"content\":\"{\\\"broker_url\\\": \\\"mqtts://broker.example:8883\\\", \\\"note\\\": \\\"from real mainflux\\\"}\",\"client_cert\":\"-----BEGIN CERTIFICATE-----\\nMIICsjCCAZoCFHmJudAdh6/pPWA+nvLT5sTwmKb0MA0GCSqGSIb3DQEBCwUAMBgx\\nFjAUBgNVBAMMDW1mLWludGVyb3AtY2EwHhcNMjYxMjA0MjMyMTUwWhcNMjcwMTAz\\nMjMyMTUwWjATMREwDwYDVQQDDAhkZXZpY2UtMTCCASIwDQYJKoZIhvcNAQEBBQAD\\nggEPADCCAQoCggEBAMGOeHXWgeDA3tiAODWhXCxrTY0mHiF4869hP3lIBhzU9PYg\\n2o549d4otMfQHz3LT25/tg+IMcXevY2hEI7n6EaGKbVRk40maKI5eVlFo7Xgt4O1\\nNbyHF0lzJ6mP4vBXTAZiQOxrhsT1R/LUQWGiCmx6oPYVcBmCQGG0Wk1zwAff5H7+\\nCRok/GR07OPLo8+7V5kDN+KC2BXvmBB87dsdNz3X0ZgQteAGLttM2w0TrfaDZZg1\\nvBcNkwU33rH/o/LHfdppssnXGQP9UMQ8UY0kbdZEmK9EgG/XRKy8rYQXZzE+j58a\\nr4pmpqOEnMMiwqi9UZp2//meduZtta+soxlcmZsCAwEAATANBgkqhkiG9w0BAQsF\\nAAOCAQEAPdHDMdsVaI8wol0kuMj73aJtDviLTqJVf+2VF3LS3EXhrhNQzXB5q0E3\\nYxlmVYIpDeTdDObUc08ywdygpmScV/P1t/xL5MCpPQ5mRdlqKReW8+O8qqaucGu7\\nW17xNPdIvwJkC7h9X0K5+c0T8GKU9qANNE0yBW/ZsYVw31XOsCMRnARZPmEuZZbI\\nhLl4mh9RJ8bhubiTimYYJi/wc2QJSnWBLqmhWybTqxxODhwPG5t1k41npRSobLns\\nZb8hL+hu7Mzm56ztg648TbORprR2oTnuYP3huDd7YNITZ+DgRWkMQZlZspPTzKyA\\nrcHpfqD377O0lm4G3AGK8szwRdbB0w==\\n-----END CERTIFICATE-----\\n\",\"client_key\":\"-----BEGIN PRIVATE KEY-----\\nMIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQDBjnh11oHgwN7Y\\ngDg1oVwsa02NJh4hePOvYT95SAYc1PT2INqOePXeKLTH0B89y09uf7YPiDHF3r2N\\noRCO5+hGhim1UZONJmiiOXlZRaO14LeDtTW8hxdJcyepj+LwV0wGYkDsa4bE9Ufy\\n1EFhogpseqD2FXAZgkBhtFpNc8AH3+R+/gkaJPxkdOzjy6PPu1eZAzfigtgV75gQ\\nfO3bHTc919GYELXgBi7bTNsNE632g2WYNbwXDZMFN96x/6Pyx33aabLJ1xkD/VDE\\nPFGNJG3WRJivRIBv10SsvK2EF2cxPo+fGq+KZqajhJzDIsKovVGadv/5nnbmbbWv\\nrKMZXJmbAgMBAAECggEAAnMosCkiZLNcPrZEv90GeyNyjFZOrFLJFs+uy3yvYx8I\\n6LKawZHjXsf6HctTEeeoXjgsmD67josWsBu5R23FAVuCXKKnMPKrAV6j3A7nFw68\\nk+SvxO6ay1mzR1CkaTFZq30D4FouDwEhw3+PQkqYQi49KlA0JoaBBRuQxwkvhYn4\\nyfKt5k1XjsnbYONI0LZS7kb10cIXGHX3CxaVZUK1z+7/R5s0VzjF5ey+xeBmnK87\\nsmDeJccYFiW6PCkIY8hBl4qRdXbwb8zLRspwQYqKZzC0A+wtFD3ynOAB4l9ipXFq\\ndwOyhgFpKq/0vjZxVfjTZI58oAOWpZ+5jhNtIY+DeQKBgQDj/TxlVayoNEqvHWYo\\nLwOvY07S3Yaj4W876HIW781HWbHTseo7fJFyI5Lkle1AI/NGHvj2xHleZoHSJjDK\\nmv2wayy2q8wQBUTUKoz0VyX0hXvpiAiWRztvC/DD6d6Rw8d38C09OmkDiKqIZAqd\\n28/+ofXFQ3+jjylDj1iAbp0RaQKBgQDZVkA4hyJr6Vz1LH/OpcREL5DfoN2yGy0I\\nCoeuYkCjTyTYhiyqtdKFQmgeFeGcPlGqAmYeKP64onjTBfBRm3w5NI0SU+2/KT0r\\naD1QkFP6jlIcXaV2TBd7QdvhdgfB4hqweLb2pc6sfMz8F77wDYhyfHoTNTSwF7s1\\ni0Vpf84uYwKBgQCkCsrREvMXWADAvUOK+EELikXl/VTqR8OUdGzayhKHGyeTbXle\\n8gNo/+WqqaG6u+NH+fMjAz1cyh7wyV/j998/d+4FRdmfUVsz2aXwDWCW7xC4eJPN\\nJVXDUfEb1gO6GAdG6j5yxrtWupgRaQImkUm4Kmq/VBDb659CKDsCthQ3uQKBgQCg\\nr3pP0OmMKz9FLZ9Y44pWd2x/SmpesmT62v4x2ga8N1mglKMVm9SIHe7ov3jMke7C\\n6X8isWCSld0K+AsT6wdPLCFY+aB/gzfsjec3V14fk3X17u7UpbF+udSdvyxBFrBw\\n5O8xMKm7MZJEmDHdPcQyEQIYjW/k+ca58bxiIdIIzQKBgQCOWx8dXKwHV7jW+XS6\\neA9422KRPFxOaofDR2nxl0TGBKByoALxVNwpdspO7ZPOZ5P5lwcMC1rxJPbhN+Xy\\nnmX9hlElfxDBEHbjzmQ7Bf93ir3+KMtMxmOzhYWkjaWcOFp4ODLnJWofpmYxgMBp\\nKPkM9C7LcUWrps9ylZl1Xq6kjg==\\n-----END PRIVATE KEY-----\\n\",\"ca_cert\":\"-----BEGIN CERTIFICATE-----\\nMIIDETCCAfmgAwIBAgIUbn4UakGjAIDJ+qbrJwGuX+Cihl8wDQYJKoZIhvcNAQEL\\nBQAwGDEWMBQGA1UEAwwNbWYtaW50ZXJvcC1jYTAeFw0yNjEyMDQyMzIxNTBaFw0y\\nNzAxMDMyMzIxNTBaMBgxFjAUBgNVBAMMDW1mLWludGVyb3AtY2EwggEiMA0GCSqG\\nSIb3DQEBAQUAA4IBDwAwggEKAoIBAQCnnstPKEt5Q4zH7+NnvHx23x+89N3OcODm\\nZLWWcIlcuxFxudspmIaBplyD0TvjgW0NA/gzwkZyHlKb5nKPfq4+zWlGy8mJM493\\nbhgtIbgoCkWCYr1lC8z9nzOo3xm5slhI75R8baL+R9+cmTEsO9ulSE5X/iEcW5f+\\nw6RqNS2ivVcCDmoVbeKpCgMSLWKhOQXARrYHR4TtYDJ7b0+yOlopN2DUVtWqPwiG\\ntGhhgR/hrGZWqwjszk4X3aZKWdNZ+kR1uuRaYvv4mcXgEpXIZx91BS0imvCLutwF\\nxEmQY7YZyiFOZr0waPaa/0izCGzZztKW1ewz5BtmrYfEdAenkGbtAgMBAAGjUzBR\\nMB0GA1UdDgQWBBRGj7FerFGLmsSgMaL8DWl3dUqDZTAfBgNVHSMEGDAWgBRGj7Fe\\nrFGLmsSgMaL8DWl3dUqDZTAPBgNVHRMBAf8EBTADAQH/MA0GCSqGSIb3DQEBCwUA\\nA4IBAQAeGuEjRl2T9uVZczELLnUT59sGbTAkUe+TFEREKtVLCWb4k8qJxS80M9t5\\nQnu8Xsft6En//rAYc4mvQjc4snQ22SSDXeM+cyng+qjjuO7lwbYLofXJ4qmfamII\\nVQ5Rf2cEo+suyUD5a30lVYfRb834D26M8Pn1evZkyXSnYX0Vf7tfQFvuHlI2nAEf\\nB5EfIjZMdjMJbD0udCw5FmSpaioH+UxWmAaqhWLTyu582614Cr9vy1YibD5IlLg3\\nisDOrhOro5rlYMQRAKs1nxn7L/zhWs5ypl2v7qOG3FU04xwQg1MdXoJC7GDFcEnE\\n/zaE8yheIbXaLgcjQWkGdMkvpg5D\\n-----END CERTIFICATE-----\\n\"}\n"
   },
   {
    "case": "unknown-id",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3AFF%3AFF",
    "status": 404,
    "headers": {
     "content-length": "70",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Thing ext-key-0525",
    "bodyText": "{\"error\":\"failed to read bootstrap configuration : entity not found\"}\n"
   },
   {
    "case": "wrong-key",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A00%3A25",
    "status": 403,
    "headers": {
     "content-length": "73",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Thing a-wrong-key",
    "bodyText": "{\"error\":\"failed to get bootstrap configuration for given external key\"}\n"
   },
   {
    "case": "no-authorization",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A00%3A25",
    "status": 401,
    "headers": {
     "content-length": "89",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "bodyText": "{\"error\":\"something went wrong with the request : missing or invalid bearer entity key\"}\n"
   },
   {
    "case": "other-scheme(Bearer)",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A00%3A25",
    "status": 401,
    "headers": {
     "content-length": "89",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Bearer ext-key-0525",
    "bodyText": "{\"error\":\"something went wrong with the request : missing or invalid bearer entity key\"}\n"
   }
  ]
 },
 {
  "file": "0525-thing-plain-nocert",
  "service": "Mainflux master of 2023-08-22",
  "commit": "0525a9ab75952eca3de9eade842086a040d6e8b0",
  "deviceConfig": {
   "generation": "thing",
   "externalId": "02:00:00:00:01:25",
   "externalKey": "ext-key-0525-nocert"
  },
  "exchanges": [
   {
    "case": "ok",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A01%3A25",
    "status": 200,
    "headers": {
     "content-type": "application/json",
     "content-length": "392",
     "connection": "close"
    },
    "authorizationSent": "Thing ext-key-0525-nocert",
    "bodyText": "{\"thing_id\":\"65194317-d98a-4c4b-9a81-7c4ee75da8bc\",\"thing_key\":\"bbd5ec33-5beb-4210-bd86-acee5caef935\",\"channels\":[{\"id\":\"deca182e-2fff-4ef0-998f-9a78512cc0ba\",\"name\":\"data\",\"metadata\":{\"type\":\"data\"}},{\"id\":\"2b74f78e-166a-488d-8918-5ccc0d084ac1\",\"name\":\"control\",\"metadata\":{\"type\":\"control\"}}],\"content\":\"{\\\"broker_url\\\": \\\"mqtts://broker.example:8883\\\", \\\"note\\\": \\\"from real mainflux\\\"}\"}\n"
   },
   {
    "case": "unknown-id",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3AFF%3AFF",
    "status": 404,
    "headers": {
     "content-length": "70",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Thing ext-key-0525-nocert",
    "bodyText": "{\"error\":\"failed to read bootstrap configuration : entity not found\"}\n"
   },
   {
    "case": "wrong-key",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A01%3A25",
    "status": 403,
    "headers": {
     "content-length": "73",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Thing a-wrong-key",
    "bodyText": "{\"error\":\"failed to get bootstrap configuration for given external key\"}\n"
   },
   {
    "case": "no-authorization",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A01%3A25",
    "status": 401,
    "headers": {
     "content-length": "89",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "bodyText": "{\"error\":\"something went wrong with the request : missing or invalid bearer entity key\"}\n"
   },
   {
    "case": "other-scheme(Bearer)",
    "path": "/things/bootstrap/02%3A00%3A00%3A00%3A01%3A25",
    "status": 401,
    "headers": {
     "content-length": "89",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Bearer ext-key-0525-nocert",
    "bodyText": "{\"error\":\"something went wrong with the request : missing or invalid bearer entity key\"}\n"
   }
  ]
 },
 {
  "file": "0525-thing-secure-ascii-nocert",
  "service": "Mainflux master of 2023-08-22",
  "commit": "0525a9ab75952eca3de9eade842086a040d6e8b0",
  "deviceConfig": {
   "generation": "thing",
   "externalId": "02:00:00:00:01:25",
   "externalKey": "ext-key-0525-nocert",
   "secure": {
    "key": "12345678910111213141516171819202",
    "keyEncoding": "ascii"
   }
  },
  "exchanges": [
   {
    "case": "ok",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3A01%3A25",
    "status": 200,
    "headers": {
     "content-type": "application/json",
     "content-length": "407",
     "connection": "close"
    },
    "authorizationSent": "Thing 000102030405060708090a0b0c0d0e0fb3ac29dfadbcbfe471a2b7ce1f0d88fb1bcd98",
    "bodyHex": "3c9c3e4a417546925dc59da0392186ac56e80bdbefece12e202c9c7036f9c4c8bff1cec13e39b07b7660c1c9fedd00e1627c3a0ad426814791a4fa1273f6f45b0d9b46756ec9fbce4a8416bfd5d248ebe0831f16a39172a07cf39bf3f4650d7d9e17eda0d18a597b4e454964d6d96777d88a53503dfe90794be513f66b2791b0809b75c38b9b2e8ff14edb9792436052e3e7eafed915edffb688959ef1d53a2daab1148aed98fb85d33eb63e7c4570754c624995f25a1b0c51fde43c01833e49c6dd1247c1085a4ebc42a7cf56e4fd7a879a249db639103c8d29990808000fc40c30f1cb129fe702aad289d732a4579128aafedf82058c7cedccb408f8a17f78d51e8ffa839c3b571082191c7048f6627e63e9f812072137f48810f0185fb53467b5be970b96750de86e6481fae515810893a61b5e2791778120ad9a86621cccae3e1b475fb2303dc1b958369961948088302b5cff4bfe0487a3fa5b68070f195ad1c8ac3f057d2cf1a8f160f387584b711e69d9c86956ffe969c6dc5f194422118e9fcafe0be76f7669ff8cb1f50a62f0f0bcd9ff8756",
    "decrypted": "{\"thing_id\":\"65194317-d98a-4c4b-9a81-7c4ee75da8bc\",\"thing_key\":\"bbd5ec33-5beb-4210-bd86-acee5caef935\",\"channels\":[{\"id\":\"deca182e-2fff-4ef0-998f-9a78512cc0ba\",\"name\":\"data\",\"metadata\":{\"type\":\"data\"}},{\"id\":\"2b74f78e-166a-488d-8918-5ccc0d084ac1\",\"name\":\"control\",\"metadata\":{\"type\":\"control\"}}],\"content\":\"{\\\"broker_url\\\": \\\"mqtts://broker.example:8883\\\", \\\"note\\\": \\\"from real mainflux\\\"}\"}"
   },
   {
    "case": "unknown-id",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3AFF%3AFF",
    "status": 404,
    "headers": {
     "content-length": "70",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Thing 000102030405060708090a0b0c0d0e0fb3ac29dfadbcbfe471a2b7ce1f0d88fb1bcd98",
    "bodyText": "{\"error\":\"failed to read bootstrap configuration : entity not found\"}\n"
   },
   {
    "case": "wrong-key",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3A01%3A25",
    "status": 403,
    "headers": {
     "content-length": "73",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Thing 000102030405060708090a0b0c0d0e0fb7f92a80a9b7a1e42af2fc",
    "bodyText": "{\"error\":\"failed to get bootstrap configuration for given external key\"}\n"
   },
   {
    "case": "no-authorization",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3A01%3A25",
    "status": 401,
    "headers": {
     "content-length": "89",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "bodyText": "{\"error\":\"something went wrong with the request : missing or invalid bearer entity key\"}\n"
   },
   {
    "case": "other-scheme(Bearer)",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3A01%3A25",
    "status": 401,
    "headers": {
     "content-length": "89",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Bearer 000102030405060708090a0b0c0d0e0fb3ac29dfadbcbfe471a2b7ce1f0d88fb1bcd98",
    "bodyText": "{\"error\":\"something went wrong with the request : missing or invalid bearer entity key\"}\n"
   },
   {
    "case": "secure-not-hex",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3A01%3A25",
    "status": 403,
    "headers": {
     "content-length": "124",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Thing zz-not-hex",
    "bodyText": "{\"error\":\"failed to get bootstrap configuration for given encrypted external key : encoding/hex: invalid byte: U+007A 'z'\"}\n"
   }
  ]
 },
 {
  "file": "0525-thing-secure-default-nocert",
  "service": "Mainflux master of 2023-08-22",
  "commit": "0525a9ab75952eca3de9eade842086a040d6e8b0",
  "deviceConfig": {
   "generation": "thing",
   "externalId": "02:00:00:00:01:25",
   "externalKey": "ext-key-0525-nocert",
   "secure": {
    "key": "12345678910111213141516171819202"
   }
  },
  "exchanges": [
   {
    "case": "ok",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3A01%3A25",
    "status": 403,
    "headers": {
     "content-length": "73",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Thing 000102030405060708090a0b0c0d0e0f3cf340985ec0e6e797d42b7c9bf34f268309a6",
    "bodyText": "{\"error\":\"failed to get bootstrap configuration for given external key\"}\n"
   },
   {
    "case": "unknown-id",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3AFF%3AFF",
    "status": 404,
    "headers": {
     "content-length": "70",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Thing 000102030405060708090a0b0c0d0e0f3cf340985ec0e6e797d42b7c9bf34f268309a6",
    "bodyText": "{\"error\":\"failed to read bootstrap configuration : entity not found\"}\n"
   },
   {
    "case": "wrong-key",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3A01%3A25",
    "status": 403,
    "headers": {
     "content-length": "73",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Thing 000102030405060708090a0b0c0d0e0f38a643c75acbf8e7cc8460",
    "bodyText": "{\"error\":\"failed to get bootstrap configuration for given external key\"}\n"
   },
   {
    "case": "no-authorization",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3A01%3A25",
    "status": 401,
    "headers": {
     "content-length": "89",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "bodyText": "{\"error\":\"something went wrong with the request : missing or invalid bearer entity key\"}\n"
   },
   {
    "case": "other-scheme(Bearer)",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3A01%3A25",
    "status": 401,
    "headers": {
     "content-length": "89",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Bearer 000102030405060708090a0b0c0d0e0f3cf340985ec0e6e797d42b7c9bf34f268309a6",
    "bodyText": "{\"error\":\"something went wrong with the request : missing or invalid bearer entity key\"}\n"
   },
   {
    "case": "secure-not-hex",
    "path": "/things/bootstrap/secure/02%3A00%3A00%3A00%3A01%3A25",
    "status": 403,
    "headers": {
     "content-length": "124",
     "content-type": "text/plain; charset=utf-8",
     "connection": "close"
    },
    "authorizationSent": "Thing zz-not-hex",
    "bodyText": "{\"error\":\"failed to get bootstrap configuration for given encrypted external key : encoding/hex: invalid byte: U+007A 'z'\"}\n"
   }
  ]
 }
];
