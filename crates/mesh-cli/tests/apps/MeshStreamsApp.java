// A small Kafka Streams application for mesh's tests: counts the records of the input topic by
// value and writes the counts to the output topic. Re-keying by value makes Streams create a
// repartition topic, and the count's store a changelog topic: both internal topics under the
// application id, created by the application itself with the ACLs mesh derived.
//
// Usage: MeshStreamsApp <client.properties> <input topic> <output topic> <seconds>
// The properties file carries the login, application.id and processing.guarantee. Prints
// "STATE <state>" on every state change; exits 3 on an error (e.g. an authorization failure),
// 0 after running <seconds> seconds.

import java.io.FileInputStream;
import java.util.Properties;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.state.Stores;

public class MeshStreamsApp {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        try (FileInputStream in = new FileInputStream(args[0])) {
            props.load(in);
        }
        String input = args[1];
        String output = args[2];
        long seconds = Long.parseLong(args[3]);

        StreamsBuilder builder = new StreamsBuilder();
        builder.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
                .selectKey((key, value) -> value)
                .groupByKey(Grouped.with("by-value", Serdes.String(), Serdes.String()))
                .count(Materialized.as(Stores.inMemoryKeyValueStore("counts")))
                .toStream()
                .mapValues(count -> Long.toString(count))
                .to(output, Produced.with(Serdes.String(), Serdes.String()));

        KafkaStreams streams = new KafkaStreams(builder.build(), props);
        streams.setStateListener((now, before) -> {
            System.out.println("STATE " + now);
            if (now == KafkaStreams.State.ERROR) {
                System.out.flush();
                Runtime.getRuntime().halt(3);
            }
        });
        streams.setUncaughtExceptionHandler(e -> {
            System.out.println("FAILED " + e);
            Throwable cause = e.getCause();
            while (cause != null) {
                System.out.println("CAUSE " + cause);
                cause = cause.getCause();
            }
            System.out.flush();
            Runtime.getRuntime().halt(3);
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        streams.start();
        Thread.sleep(seconds * 1000);
        streams.close();
        System.out.println("DONE");
    }
}
